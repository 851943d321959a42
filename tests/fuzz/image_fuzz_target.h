// The image fuzzer's input handler, shared by the libFuzzer target
// (image_fuzzer.cc) and the gtest that replays its regressions
// (tests/crash/fuzz_regression_test.cc).
//
// An input is a list of patches over a valid image, not an image: a random
// 2 MiB blob never gets past the superblock's magic and CRC, while patches
// over an image made by mkfs and a few operations (tests/crash/sample_image.h)
// reach the journal replay, the inode, extent, directory and xattr decoders,
// the allocator's bitmaps and check, which is where a damaged image does its
// harm. Patches address a region of FileSystem::regions() so that the
// fuzzer's mutations land mostly in metadata rather than in file data.
//
// Format:
//   byte 0        flags: bit 0 the base image is the one a power failure left
//                 mid-rename (recovery replays its journal) instead of the
//                 clean one; bit 1 reseal the CRCs of the records each patch
//                 touches (tests/crash/record_sealer.h), so that patches get
//                 past the checksums into the decoders and validators; bit 2
//                 truncate the image to (flags >> 3) / 32 of its size,
//                 rounded down to 4 KiB
//   then patches  [region u8][offset u32 le][length u8][bytes...]: the
//                 region is taken modulo (regions + 1), the last meaning the
//                 whole image; the offset modulo the region's length; 1 +
//                 length % 32 bytes follow (fewer if the input ends).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pinfs::fuzz {

// The size of the base image (the media minimum: every input copies it
// twice, and copies are most of the time an input takes) and the input
// format's limits.
inline constexpr std::uint64_t kFuzzImageBytes = 1 << 20;
inline constexpr std::size_t kMaxPatches = 64;

// Runs one input: check, a read-only and a read-write mount of the patched
// image, a walk of everything reachable and a few writes. Returns "" or what
// went wrong without a crash (an unclear error, a write to an image that
// must not change); a crash, hang or leak is the caller's to see.
std::string run_image_input(std::span<const std::uint8_t> input);

// Example inputs for a seed corpus: the base images untouched, and a patch
// in each region.
std::vector<std::vector<std::uint8_t>> seed_inputs();

}  // namespace pinfs::fuzz
