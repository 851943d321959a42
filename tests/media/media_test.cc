#include "fs/media.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_env.h"

namespace pinfs::fs {
namespace {

namespace stdfs = std::filesystem;

class MediaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pinfs-media-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }

  stdfs::path dir_;
};

std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 131 + seed) & 0xff);
  return out;
}

TEST_F(MediaTest, PlainFileIsCreatedMappedPersistedAndReadBackAfterReopen) {
  const std::string p = path("pool");
  auto data = pattern(8192, 7);
  {
    auto media = Media::open(p, {.create_size_bytes = 4 << 20});
    ASSERT_TRUE(media.ok()) << media.error().message();
    EXPECT_EQ((*media)->kind(), MediaKind::plain_file);
    EXPECT_EQ((*media)->size_bytes(), 4u << 20);
    EXPECT_EQ((*media)->store_granularity(), StoreGranularity::page);
    EXPECT_EQ((*media)->map_alignment_bytes(), static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)));
    EXPECT_GE((*media)->fd(), 0);
    (*media)->store_persist(1 << 20, data.data(), data.size());
    (*media)->fill_persist(3 << 20, 0xab, 100);
  }
  auto media = Media::open(p);
  ASSERT_TRUE(media.ok()) << media.error().message();
  EXPECT_EQ(std::memcmp((*media)->data() + (1 << 20), data.data(), data.size()), 0);
  EXPECT_EQ((*media)->data()[(3 << 20) + 99], std::byte{0xab});
  EXPECT_EQ((*media)->data()[(3 << 20) + 100], std::byte{0});
}

TEST_F(MediaTest, StoreThenPersistIsVisibleThroughAnotherMapping) {
  const std::string p = path("pool");
  auto writer = Media::open(p, {.create_size_bytes = 2 << 20});
  ASSERT_TRUE(writer.ok()) << writer.error().message();
  const char msg[] = "persisted";
  (*writer)->store(4096, msg, sizeof msg);
  (*writer)->persist(4096, sizeof msg);
  // Another view of the file while the writer holds it (a second Media
  // would be refused: the writer's lock).
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  char got[sizeof msg] = {};
  EXPECT_EQ(::pread(fd, got, sizeof got, 4096), static_cast<ssize_t>(sizeof got));
  ::close(fd);
  EXPECT_STREQ(got, msg);
  writer->reset();
  auto reader = Media::open(p, {.read_only = true});
  ASSERT_TRUE(reader.ok()) << reader.error().message();
  EXPECT_TRUE((*reader)->read_only());
  EXPECT_STREQ(reinterpret_cast<const char*>((*reader)->data() + 4096), msg);
}

// One writer or many readers: a second daemon, a mkfs or a check of a file
// system in use is refused instead of writing under the first.
TEST_F(MediaTest, ASecondOpenWhileOpenForWritingIsRefusedWithEbusy) {
  auto writer = Media::open(path("pool"), {.create_size_bytes = 4 << 20});
  ASSERT_TRUE(writer.ok()) << writer.error().message();
  auto again = Media::open(path("pool"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errnum(), EBUSY);
  EXPECT_NE(again.error().message().find(path("pool")), std::string::npos)
      << again.error().message();
  auto reader = Media::open(path("pool"), {.read_only = true});
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.error().errnum(), EBUSY);
  writer->reset();
  EXPECT_TRUE(Media::open(path("pool")).ok()) << "the lock outlived the media";
}

TEST_F(MediaTest, ReadersShareTheMediaButKeepWritersOut) {
  ASSERT_TRUE(Media::open(path("pool"), {.create_size_bytes = 4 << 20}).ok());
  auto first = Media::open(path("pool"), {.read_only = true});
  auto second = Media::open(path("pool"), {.read_only = true});
  ASSERT_TRUE(first.ok()) << first.error().message();
  ASSERT_TRUE(second.ok()) << second.error().message();
  auto writer = Media::open(path("pool"));
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.error().errnum(), EBUSY);
}

// Clients get a description of their own: holding it must not keep a
// restarted daemon out.
TEST_F(MediaTest, TheClientDescriptorDoesNotCarryTheLock) {
  auto media = Media::open(path("pool"), {.create_size_bytes = 4 << 20});
  ASSERT_TRUE(media.ok()) << media.error().message();
  int client = ::dup((*media)->client_fd());
  ASSERT_GE(client, 0);
  struct stat a {}, b {};
  ASSERT_EQ(::fstat(client, &a), 0);
  ASSERT_EQ(::fstat((*media)->fd(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  media->reset();
  auto reopened = Media::open(path("pool"));
  EXPECT_TRUE(reopened.ok()) << "a client's descriptor kept the media locked: "
                             << reopened.error().message();
  ::close(client);
}

TEST_F(MediaTest, MissingFileWithoutSizeIsENOENTNamingThePath) {
  auto media = Media::open(path("absent"));
  ASSERT_FALSE(media.ok());
  EXPECT_EQ(media.error().errnum(), ENOENT);
  EXPECT_EQ(media.error().object(), path("absent"));
  EXPECT_NE(media.error().message().find("No such file or directory"), std::string::npos);
  EXPECT_FALSE(stdfs::exists(path("absent")));
}

TEST_F(MediaTest, DirectoryIsRefusedWithEISDIR) {
  auto media = Media::open(dir_.string());
  ASSERT_FALSE(media.ok());
  EXPECT_EQ(media.error().errnum(), EISDIR);
  EXPECT_NE(media.error().message().find(dir_.string()), std::string::npos);
}

TEST_F(MediaTest, TooSmallFileIsRefusedWithEINVAL) {
  const std::string p = path("small");
  std::ofstream(p).close();
  ASSERT_EQ(::truncate(p.c_str(), 64 << 10), 0);
  auto media = Media::open(p);
  ASSERT_FALSE(media.ok());
  EXPECT_EQ(media.error().errnum(), EINVAL);
  EXPECT_NE(media.error().detail().find("too small"), std::string::npos);
}

TEST_F(MediaTest, MisalignedFileSizeIsRefusedWithEINVAL) {
  const std::string p = path("odd");
  std::ofstream(p).close();
  ASSERT_EQ(::truncate(p.c_str(), (4 << 20) + 100), 0);
  auto media = Media::open(p);
  ASSERT_FALSE(media.ok());
  EXPECT_EQ(media.error().errnum(), EINVAL);
  EXPECT_NE(media.error().detail().find("not a multiple of 4 KiB"), std::string::npos);
}

TEST_F(MediaTest, CreateWithMisalignedSizeFailsAndLeavesNoFile) {
  auto media = Media::open(path("new"), {.create_size_bytes = (2 << 20) + 1});
  ASSERT_FALSE(media.ok());
  EXPECT_EQ(media.error().errnum(), EINVAL);
  EXPECT_FALSE(stdfs::exists(path("new")));
}

TEST_F(MediaTest, CharacterDeviceThatIsNotDaxIsRefusedWithENODEV) {
  auto media = Media::open("/dev/null");
  ASSERT_FALSE(media.ok());
  EXPECT_EQ(media.error().errnum(), ENODEV);
  EXPECT_NE(media.error().message().find("/dev/null"), std::string::npos);
}

TEST_F(MediaTest, MemoryImageStoresAndReads) {
  auto media = Media::from_image(std::vector<std::byte>(1 << 20), 4096);
  const int v = 42;
  media->store_persist(100, &v, sizeof v);
  int out = 0;
  std::memcpy(&out, media->data() + 100, sizeof out);
  EXPECT_EQ(out, 42);
  EXPECT_EQ(media->kind(), MediaKind::memory);
  EXPECT_EQ(media->fd(), -1);
}

// daxctl's own view of a device, to compare with what the media layer reads
// through libdaxctl.
nlohmann::json daxctl_list_device(const std::string& name) {
  std::string out;
  FILE* p = ::popen("daxctl list", "r");
  if (p == nullptr) return {};
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  ::pclose(p);
  auto parsed = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) parsed = nlohmann::json::array({parsed});
  for (const auto& dev : parsed) {
    if (dev.value("chardev", "") == name) return dev;
  }
  return {};
}

TEST_F(MediaTest, DevdaxSizeAndAlignmentMatchDaxctlAndDataSurvivesReopen) {
  const std::string dax = pinfs::testing::env_or_empty("PINFS_TEST_DAX");
  PINFS_REQUIRE(!dax.empty() && stdfs::exists(dax), "a device-DAX device (PINFS_TEST_DAX)");
  auto media = Media::open(dax);
  ASSERT_TRUE(media.ok()) << media.error().message();
  EXPECT_EQ((*media)->kind(), MediaKind::devdax);
  EXPECT_NE((*media)->store_granularity(), StoreGranularity::page);

  auto listed = daxctl_list_device(stdfs::path(dax).filename().string());
  ASSERT_TRUE(listed.is_object()) << "daxctl list does not show " << dax;
  EXPECT_EQ((*media)->size_bytes(), listed.at("size").get<std::uint64_t>());
  EXPECT_EQ((*media)->map_alignment_bytes(), listed.at("align").get<std::uint64_t>());
  EXPECT_EQ((*media)->map_alignment_bytes(), 2u << 20);

  auto data = pattern(3 << 20, 99);
  const std::uint64_t off = (*media)->size_bytes() - (4 << 20);
  (*media)->store_persist(off, data.data(), data.size());
  media->reset();  // the device takes one writer at a time
  media = Media::open(dax);
  ASSERT_TRUE(media.ok()) << media.error().message();
  EXPECT_EQ(std::memcmp((*media)->data() + off, data.data(), data.size()), 0);
}

TEST_F(MediaTest, FileOnFsdaxMountIsMappedWithMapSync) {
  const std::string dir = pinfs::testing::env_or_empty("PINFS_TEST_FSDAX_DIR");
  PINFS_REQUIRE(!dir.empty() && stdfs::is_directory(dir), "an ext4 -o dax mount (PINFS_TEST_FSDAX_DIR)");
  const std::string p = dir + "/media-test-pool";
  stdfs::remove(p);
  auto data = pattern(4096, 3);
  {
    auto media = Media::open(p, {.create_size_bytes = 8 << 20});
    ASSERT_TRUE(media.ok()) << media.error().message();
    EXPECT_EQ((*media)->kind(), MediaKind::fsdax_file);
    EXPECT_NE((*media)->store_granularity(), StoreGranularity::page);
    (*media)->store_persist(1 << 20, data.data(), data.size());
  }
  auto media = Media::open(p);
  ASSERT_TRUE(media.ok()) << media.error().message();
  EXPECT_EQ(std::memcmp((*media)->data() + (1 << 20), data.data(), data.size()), 0);
  stdfs::remove(p);
}

}  // namespace
}  // namespace pinfs::fs
