// reseal_records: recomputes the CRCs of the metadata records that a damage
// touched, so that the damage passes the checksum and reaches the file
// system's semantic validation.
//
// Bit rot is caught by the CRCs; a pinfs bug (or a patch the fuzzer makes)
// can write wrong metadata with a right checksum, and mount, check and every
// decoder must survive that too. This knows the on-media format v1
// (fs/format.h): fixed-size records in the fixed regions, the journal's
// payload CRC, and block-sized records in the regions FileSystem::regions()
// lists for directories, extent chains and blobs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fs/filesystem.h"

namespace pinfs::crashtest {

// Reseals every record of `regions` that overlaps [offset, +length), with
// the kind each record now claims. Records it cannot delimit are left alone.
void reseal_records(std::vector<std::byte>& image, const std::vector<fs::MediaRegion>& regions,
                    std::uint64_t offset, std::uint64_t length);

}  // namespace pinfs::crashtest
