// libFuzzer target: a damaged pinfs image must never crash, assert, hang or
// leak in check, mount (read-only and read-write), a walk of the tree or a
// few writes. The input format is in image_fuzz_target.h. Built only by the
// clang build that tests/fuzz/run_fuzzer configures.
//
// PINFS_FUZZ_WRITE_SEEDS=<dir>: write the seed corpus there and exit.
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "tests/fuzz/image_fuzz_target.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("PINFS_FUZZ_WRITE_SEEDS"); dir != nullptr) {
    auto seeds = pinfs::fuzz::seed_inputs();
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      std::string path = std::string(dir) + "/seed-" + std::to_string(i);
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(seeds[i].data()),
                 static_cast<std::streamsize>(seeds[i].size()));
    }
    std::printf("image_fuzzer: wrote %zu seed inputs to %s\n", seeds.size(), dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string problem = pinfs::fuzz::run_image_input({data, size});
  if (!problem.empty()) {
    std::fprintf(stderr, "image_fuzzer: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
