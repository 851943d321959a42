#include "tests/fuzz/image_fuzz_target.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "fs/filesystem.h"
#include "fs/media.h"
#include "tests/crash/record_sealer.h"
#include "tests/crash/sample_image.h"
#include "tests/crash/tree_walker.h"

namespace pinfs::fuzz {

namespace {

constexpr std::uint64_t kMapAlignmentBytes = 4096;

struct Bases {
  crashtest::SampleImage images;
  std::vector<fs::MediaRegion> regions;
  std::string error;  // why the bases could not be built
};

const Bases& bases() {
  static const Bases* b = [] {
    auto* out = new Bases();
    crashtest::SampleImageOptions o;
    o.image_bytes = kFuzzImageBytes;
    o.map_alignment_bytes = kMapAlignmentBytes;
    o.large_file_bytes = 160 << 10;
    o.entries_in_big_dir = 20;
    o.inode_count = 64;
    auto built = crashtest::build_sample_image(o);
    if (!built.ok()) {
      out->error = "building the base image: " + built.error().message();
      return out;
    }
    out->images = std::move(*built);
    auto regions = fs::FileSystem::regions(
        *fs::Media::from_image(out->images.clean, kMapAlignmentBytes));
    if (!regions.ok()) {
      out->error = "regions of the base image: " + regions.error().message();
      return out;
    }
    for (const auto& r : *regions) {
      if (r.length > 0 && r.offset + r.length <= kFuzzImageBytes) out->regions.push_back(r);
    }
    return out;
  }();
  return *b;
}

std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

bool same_bytes(const fs::Media& m, const std::vector<std::byte>& image) {
  return m.size_bytes() == image.size() &&
         (image.empty() || std::memcmp(m.data(), image.data(), image.size()) == 0);
}

std::vector<std::byte> patched_image(std::span<const std::uint8_t> in) {
  const Bases& b = bases();
  std::uint8_t flags = in.empty() ? 0 : in[0];
  std::vector<std::byte> image = (flags & 1) != 0 ? b.images.dirty : b.images.clean;
  std::size_t pos = 1;
  for (std::size_t n = 0; n < kMaxPatches && pos + 6 <= in.size(); ++n) {
    std::size_t which = in[pos] % (b.regions.size() + 1);
    std::uint64_t begin = 0, length = image.size();
    if (which < b.regions.size()) {
      begin = b.regions[which].offset;
      length = b.regions[which].length;
    }
    std::uint64_t at = begin + le32(&in[pos + 1]) % length;
    std::size_t count = 1 + in[pos + 5] % 32;
    pos += 6;
    count = std::min({count, in.size() - pos, static_cast<std::size_t>(image.size() - at)});
    std::memcpy(image.data() + at, &in[pos], count);
    if ((flags & 2) != 0) crashtest::reseal_records(image, b.regions, at, count);
    pos += count;
  }
  if ((flags & 4) != 0) {
    std::uint64_t size = image.size() * (flags >> 3) / 32;
    image.resize(size - size % 4096);
  }
  return image;
}

// The first problem wins; later ones are usually its consequences.
struct Problems {
  std::string first;
  void add(std::string what) {
    if (first.empty()) first = std::move(what);
  }
  void require_clear(const Error& e, const char* during) {
    if (!crashtest::is_clear(e)) add(fmt::format("{}: unclear error errno {} '{}'", during, e.errnum(), e.message()));
  }
  void note_walk(const crashtest::WalkCounts& w, const char* during) {
    if (!w.unclear_error.empty()) add(fmt::format("{}: {}", during, w.unclear_error));
  }
};

void mutate(fs::FileSystem& f, Problems& p) {
  fs::Caller caller{::getpid(), 0, 0};
  auto made = f.mknod(fs::kRootInode, "fuzz-new", S_IFREG | 0644, 0, caller);
  if (!made.ok()) {
    p.require_clear(made.error(), "create");
    return;
  }
  std::vector<std::byte> data(70000, std::byte{0x42});
  if (auto w = f.write(made->ino, 4096, data, caller); !w.ok()) p.require_clear(w.error(), "write");
  std::vector<std::byte> value(300, std::byte{1});
  if (auto x = f.setxattr(made->ino, "user.fuzz", value, 0, caller); !x.ok()) {
    p.require_clear(x.error(), "setxattr");
  }
  if (auto d = f.mkdir(fs::kRootInode, "fuzz-dir", 0755, caller); !d.ok()) {
    p.require_clear(d.error(), "mkdir");
  } else if (auto r = f.rename(fs::kRootInode, "fuzz-new", d->ino, "moved", 0, caller); !r.ok()) {
    p.require_clear(r.error(), "rename");
  }
  // Existing files: truncate and remove what the sample image has.
  for (const char* name : {"big", "sparse", "mapped", "docs", "link-short"}) {
    auto a = f.lookup(fs::kRootInode, name);
    if (!a.ok()) continue;
    if (S_ISREG(a->mode)) {
      fs::SetAttr change;
      change.size = a->size / 3;
      if (auto t = f.setattr(a->ino, change, caller); !t.ok()) p.require_clear(t.error(), "truncate");
      if (auto u = f.unlink(fs::kRootInode, name, caller); !u.ok()) p.require_clear(u.error(), "unlink");
    } else if (S_ISDIR(a->mode)) {
      if (auto r = f.rename(fs::kRootInode, name, fs::kRootInode, "docs-renamed", 0, caller); !r.ok()) {
        p.require_clear(r.error(), "rename dir");
      }
    } else {
      if (auto u = f.unlink(fs::kRootInode, name, caller); !u.ok()) p.require_clear(u.error(), "unlink");
    }
  }
}

}  // namespace

std::string run_image_input(std::span<const std::uint8_t> input) {
  const Bases& b = bases();
  if (!b.error.empty()) return b.error;
  std::vector<std::byte> image = patched_image(input);
  Problems p;

  // check and a read-only mount never write: one media serves both, and is
  // compared with the image after each.
  {
    auto media = fs::Media::from_image(image, kMapAlignmentBytes);
    auto report = fs::FileSystem::check(*media);
    if (!report.ok()) p.require_clear(report.error(), "check");
    if (!same_bytes(*media, image)) p.add("check wrote to the image");
    fs::MountOptions ro;
    ro.read_only = true;
    auto mounted = fs::FileSystem::mount(std::move(media), ro);
    if (!mounted.ok()) {
      p.require_clear(mounted.error(), "read-only mount");
    } else {
      p.note_walk(crashtest::walk_everything(**mounted), "read-only walk");
      if (!same_bytes((*mounted)->media(), image)) p.add("a read-only mount wrote to the image");
      if (auto st = (*mounted)->unmount(); !st.ok()) p.require_clear(st.error(), "read-only unmount");
    }
  }
  // A read-write mount, used, unmounted and checked.
  {
    auto mounted =
        fs::FileSystem::mount(fs::Media::from_image(std::move(image), kMapAlignmentBytes));
    if (!mounted.ok()) {
      p.require_clear(mounted.error(), "mount");
    } else {
      p.note_walk(crashtest::walk_everything(**mounted), "walk");
      mutate(**mounted, p);
      p.note_walk(crashtest::walk_everything(**mounted), "walk after writes");
      if (auto st = (*mounted)->unmount(); !st.ok()) p.require_clear(st.error(), "unmount");
      auto report = fs::FileSystem::check((*mounted)->media());
      if (!report.ok()) p.require_clear(report.error(), "check after use");
    }
  }
  return p.first;
}

std::vector<std::vector<std::uint8_t>> seed_inputs() {
  const Bases& b = bases();
  std::vector<std::vector<std::uint8_t>> out;
  out.push_back({0});  // the clean image
  out.push_back({1});  // the image a power failure left
  out.push_back({4 | (20 << 3)});  // truncated to 20/32
  std::set<std::string> names;
  for (std::size_t r = 0; r < b.regions.size(); ++r) {
    if (!names.insert(b.regions[r].name).second) continue;  // one region of each kind
    for (std::uint8_t flags : {0, 1, 2, 3}) {
      // Eight bytes of 0xff at the region's start and in its middle.
      for (std::uint32_t offset : {0u, static_cast<std::uint32_t>(b.regions[r].length / 2)}) {
        std::vector<std::uint8_t> in{flags, static_cast<std::uint8_t>(r),
                                     static_cast<std::uint8_t>(offset),
                                     static_cast<std::uint8_t>(offset >> 8),
                                     static_cast<std::uint8_t>(offset >> 16),
                                     static_cast<std::uint8_t>(offset >> 24), 7};
        in.insert(in.end(), 8, 0xff);
        out.push_back(std::move(in));
      }
    }
  }
  return out;
}

}  // namespace pinfs::fuzz
