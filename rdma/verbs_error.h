// The one adapter for libibverbs' destroy convention.
//
// libibverbs reports failure two ways. Calls that create an object
// (ibv_open_device, ibv_alloc_pd, ibv_reg_mr) return NULL and set errno:
// that is pinfs::Error::from_errno. Calls that destroy one (ibv_dealloc_pd,
// ibv_dereg_mr) return the errno value itself and leave errno alone
// (ibv_dealloc_pd(3): "returns 0 on success, or the value of errno on
// failure"); this header turns that return value into an Error, and nothing
// else in rdma/ does.
#pragma once

#include <cerrno>
#include <string>
#include <utility>

#include "pinfs/error.h"

namespace pinfs::rdma {

// rc is what the destroy call returned (non-zero). Providers return a
// positive errno; a negative one (-errno, as some out-of-tree providers do)
// is accepted too, so a failure is never reported as success or as errno 0.
inline Error from_verbs_return(int rc, std::string op, std::string object,
                               std::string detail = {}) {
  int errnum = rc > 0 ? rc : -rc;
  return Error(errnum != 0 ? errnum : EIO, std::move(op), std::move(object),
               std::move(detail));
}

}  // namespace pinfs::rdma
