// The on-media format, version 1 (docs/format.md is the prose companion;
// keep them in step).
//
// Every field is explicitly little-endian (fs/le.h); every struct has a
// static_assert on its size. Every metadata record starts with a 4-byte CRC32C
// and a 4-byte kind, and its CRC is computed by record_crc() (fs/crc.h): the
// file system's UUID seed, the record's kind and media offset, then the
// record's bytes after the crc field. The superblock is the exception to the
// seed (it holds the UUID): its seed is kSuperblockSeed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "fs/le.h"

namespace pinfs::fs::format {

inline constexpr std::uint32_t fourcc(const char (&s)[5]) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[0])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[3])) << 24;
}

// "INOD" for kKindInode: how errors name a record kind.
inline std::string kind_name(std::uint32_t kind) {
  std::string out(4, '?');
  for (int i = 0; i < 4; ++i) {
    char c = static_cast<char>((kind >> (8 * i)) & 0xFF);
    if (c >= 0x20 && c < 0x7F) out[static_cast<std::size_t>(i)] = c;
  }
  return out;
}

// Record kinds: the second field of every record, and part of its CRC.
inline constexpr std::uint32_t kKindSuperblock = fourcc("SUPR");
inline constexpr std::uint32_t kKindJournalHeader = fourcc("JHDR");
inline constexpr std::uint32_t kKindJournalCommit = fourcc("JCMT");
inline constexpr std::uint32_t kKindInodeBitmap = fourcc("IBMP");
inline constexpr std::uint32_t kKindUnitTable = fourcc("UTAB");
inline constexpr std::uint32_t kKindQuarantine = fourcc("QUAR");
inline constexpr std::uint32_t kKindBlockBitmap = fourcc("BBMP");
inline constexpr std::uint32_t kKindInode = fourcc("INOD");
inline constexpr std::uint32_t kKindDirEntries = fourcc("DENT");
inline constexpr std::uint32_t kKindDirIndex = fourcc("DIDX");
inline constexpr std::uint32_t kKindExtents = fourcc("EXTM");
inline constexpr std::uint32_t kKindXattr = fourcc("XATR");
inline constexpr std::uint32_t kKindSymlink = fourcc("SYML");
inline constexpr std::uint32_t kKindPinTable = fourcc("PINT");

// "pinfs-v1" read as bytes.
inline constexpr std::uint64_t kSuperblockMagic = 0x31762d73666e6970ull;
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::uint32_t kSuperblockSeed = 0x50494e46u;  // "PINF"
// The primary superblock, and a backup that only mkfs writes.
inline constexpr std::uint64_t kSuperblockOffset = 0;
inline constexpr std::uint64_t kBackupSuperblockOffset = 4096;
inline constexpr std::uint64_t kSuperblockRegionBytes = 8192;

// compat_features: bits an older pinfs may ignore and still mount safely.
// The pin table region exists (pin_table_offset/_chunks are set).
inline constexpr std::uint32_t kCompatPinTable = 1u << 0;
inline constexpr std::uint32_t kKnownCompatFeatures = kCompatPinTable;

inline constexpr std::uint32_t kStateClean = 1;
inline constexpr std::uint32_t kStateDirty = 2;

struct Superblock {
  le32 crc;                        // record_crc with kSuperblockSeed
  le32 kind;                       // kKindSuperblock
  le64 magic;                      // kSuperblockMagic
  le32 format_version;             // kFormatVersion
  le32 incompat_features;          // 0 in v1; a set bit this code does not know refuses mount
  std::uint8_t uuid[16];           // random at mkfs; seeds every other CRC
  le64 media_bytes;                // media size at mkfs
  le32 block_size;                 // small-block size, a power of two >= 4096
  le32 inode_bytes;                // sizeof(Inode)
  le64 unit_bytes;                 // aligned unit, a power of two multiple of block_size
  le64 unit_count;                 // units on the media (the tail short of a unit is unused)
  le64 first_data_unit;            // units below hold the fixed regions
  le64 journal_offset;
  le64 journal_bytes;
  le64 inode_bitmap_offset;
  le64 inode_bitmap_chunks;
  le64 inode_table_offset;
  le64 inode_count;                // inode numbers 1 .. inode_count-1; slot 0 is never used
  le64 unit_table_offset;
  le64 unit_table_chunks;
  le64 block_bitmap_offset;
  le64 block_bitmap_record_bytes;  // per unit
  le64 quarantine_offset;
  le64 quarantine_chunks;
  le32 dir_hash_seed;              // seed of directory name hashes
  le32 reserved0;
  lei64 mkfs_time_sec;
  // Dynamic fields: changed through the journal on the primary only; the
  // backup keeps its mkfs values and is compared on geometry alone.
  le32 state;                      // kStateClean / kStateDirty
  le32 reserved1;
  le64 orphan_head;                // first inode of the orphan list (0 = empty)
  le64 mount_count;
  // Added compatibly to v1 (zero on images made before): the pin table.
  // Static, written by mkfs only; compared with the backup like the
  // geometry above.
  le64 pin_table_offset;
  le64 pin_table_chunks;           // 0 = this image has no pin table
  le32 compat_features;            // kCompatPinTable
  le32 reserved2;
  std::uint8_t reserved[272];
};
static_assert(sizeof(Superblock) == 512);

// The journal: a physical redo log holding one transaction at a time.
//   [journal_offset, +64)        JournalHeader
//   [journal_offset + 64, +128)  JournalCommit (its own cache line)
//   [journal_offset + block_size, journal end)  payload: JournalRecord+bytes ...
struct JournalHeader {
  le32 crc;             // record_crc over the header
  le32 kind;            // kKindJournalHeader
  le64 seq;             // transaction sequence number
  le64 payload_bytes;   // bytes of payload (records with their data)
  le32 record_count;
  le32 payload_crc;     // crc32c(payload, seed ^ seq)
  std::uint8_t reserved[32];
};
static_assert(sizeof(JournalHeader) == 64);
struct JournalCommit {
  le32 crc;             // record_crc over the commit record
  le32 kind;            // kKindJournalCommit
  le64 seq;             // equals the header's seq of the committed transaction
  le32 payload_crc;     // equals the header's payload_crc
  std::uint8_t reserved[44];
};
static_assert(sizeof(JournalCommit) == 64);
struct JournalRecord {
  le64 media_offset;    // where the bytes go
  le32 length;          // bytes that follow, padded to 8
  le32 reserved;
};
static_assert(sizeof(JournalRecord) == 16);
inline constexpr std::uint64_t kJournalCommitOffset = 64;

// Chunked tables (inode bitmap, unit table, quarantine): 4 KiB chunks, each
// a ChunkHeader (crc over the whole chunk) and 4080 payload bytes.
inline constexpr std::uint64_t kChunkBytes = 4096;
struct ChunkHeader {
  le32 crc;
  le32 kind;
  le64 index;           // chunk number within its table
};
static_assert(sizeof(ChunkHeader) == 16);
inline constexpr std::uint64_t kChunkPayloadBytes = kChunkBytes - sizeof(ChunkHeader);

// Unit table: one byte per unit.
enum UnitState : std::uint8_t {
  kUnitFree = 0,
  kUnitSmall = 1,     // holds small blocks; its block-bitmap record is live
  kUnitAligned = 2,   // wholly owned by one file (or by the quarantine)
  kUnitMetadata = 3,  // covered by the fixed regions
};

// Quarantine: extents that left a file while pinned. 170 entries per chunk.
struct QuarantineEntry {
  le64 media_offset;
  le64 length;
  le64 flags;           // kQuarantineInUse
};
static_assert(sizeof(QuarantineEntry) == 24);
inline constexpr std::uint64_t kQuarantineInUse = 1;
inline constexpr std::uint64_t kQuarantinePerChunk = kChunkPayloadBytes / sizeof(QuarantineEntry);

// Pin table (chunked, kKindPinTable): the pins that clients held, so that a
// daemon restart keeps their extents out of the free pool (DESIGN.md §4,
// invariant 3). 15 slots of 272 bytes per chunk. A pin takes one or more
// slots ("parts"), all written in one journal transaction; every part
// repeats the pin's header fields, so a part alone says whose it is. A slot
// with pin_id 0 is free. Items follow the header in each part: part_extents
// PinExtentItems, then part_registrations PinRegistrationItems.
struct PinSlot {
  le64 pin_id;              // 0 = free slot
  le32 part;                // 0 .. parts-1
  le32 parts;
  le64 ino;
  le64 file_offset;         // the pinned file range
  le64 file_length;
  le32 owner_pid;           // the client process that holds the pin
  le32 owner_uid;
  le64 owner_start_ticks;   // its start time (/proc/<pid>/stat field 22), 0 = unknown
  std::uint8_t boot_id[16]; // /proc/sys/kernel/random/boot_id when the pin was made
  char command[16];         // /proc/<pid>/comm, NUL-padded
  lei64 created_sec;
  le32 extent_count;        // of the whole pin
  le32 registration_count;  // of the whole pin
  le16 part_extents;        // items in this part
  le16 part_registrations;
  le32 reserved;
  std::uint8_t items[160];
};
static_assert(sizeof(PinSlot) == 272);
inline constexpr std::uint64_t kPinSlotsPerChunk = kChunkPayloadBytes / sizeof(PinSlot);
static_assert(kPinSlotsPerChunk == 15);
struct PinExtentItem {
  le64 file_offset;
  le64 media_offset;        // byte offset into the media
  le64 length;
};
static_assert(sizeof(PinExtentItem) == 24);
struct PinRegistrationItem {
  char device_name[64];     // NUL-padded (IB_DEVICE_NAME_MAX)
  le32 lkey;
  le32 rkey;
  le64 iova;
  le64 length;
  le32 access_flags;
  le32 reserved;
};
static_assert(sizeof(PinRegistrationItem) == 96);

// Block bitmap: one record per unit, meaningful only while the unit is
// kUnitSmall (written whole by the transaction that makes it so). Bit b of
// the bits set = block b of the unit in use. The record is the header plus
// blocks_per_unit/8 bytes, padded to 64.
struct BlockBitmapHeader {
  le32 crc;
  le32 kind;            // kKindBlockBitmap
  le64 unit;
};
static_assert(sizeof(BlockBitmapHeader) == 16);

struct Time {
  lei64 sec;
  le32 nsec;
  le32 reserved;
};
static_assert(sizeof(Time) == 16);

// One extent: file blocks [file_block, +block_count) live at media blocks
// [media_block, +block_count). Block = the file system's block size. A
// record with block_count 0 is an empty slot.
struct ExtentRecord {
  le64 file_block;
  le64 media_block;
  le32 block_count;
  le32 flags;           // 0 in v1
};
static_assert(sizeof(ExtentRecord) == 24);

inline constexpr std::uint32_t kInodeFlagAligned = 1u << 0;     // data in aligned units; inherited
inline constexpr std::uint32_t kInodeFlagIndexForkB = 1u << 1;  // directory index lives in fork B
inline constexpr std::uint32_t kInodeFlagInlineLink = 1u << 2;  // symlink target in inline_area
inline constexpr std::uint32_t kInodeFlagOrphan = 1u << 3;      // on the orphan list
inline constexpr std::uint32_t kInodeKnownFlags = 0xF;

inline constexpr std::size_t kInlineExtents = 2;
inline constexpr std::size_t kInlineAreaBytes = kInlineExtents * sizeof(ExtentRecord);

// A symlink target too long for the inline area lives in a blob.
struct BlobRef {
  le64 block;           // first media block
  le32 block_count;
  le32 length;          // payload bytes
};
static_assert(sizeof(BlobRef) == 16);

struct Inode {
  le32 crc;             // record_crc; covers the whole 256 bytes
  le32 kind;            // kKindInode
  le64 ino;             // its own number: a record in the wrong slot fails
  le64 generation;
  le32 mode;            // st_mode
  le32 nlink;
  le32 uid;
  le32 gid;
  le32 flags;           // kInodeFlag*
  le32 reserved0;
  le64 size;
  le64 rdev;
  le64 data_blocks;     // blocks the extent map references
  le64 parent;          // directories: the inode of ".."
  Time atime;
  Time mtime;
  Time ctime;
  Time btime;
  le64 xattr_block;     // first block of the xattr blob, 0 = none
  le32 xattr_blocks;
  le32 chain_blocks;    // extent blocks in the chain
  le64 chain_head;      // first extent block (media block), 0 = none
  le32 chain_extents;   // extents recorded in the chain (not inline)
  le32 dir_slots;       // directories: entry slots in use or free (high-water mark)
  le32 dir_free_head;   // first free slot + 1, 0 = none
  le32 dir_entries;     // live entries (not "." or "..")
  le32 dir_index_log2;  // index capacity = 1 << log2; 0 = no index
  le32 dir_index_used;  // index positions live or tombstoned
  le64 orphan_next;     // orphan list links (inode numbers)
  le64 orphan_prev;
  std::uint8_t inline_area[kInlineAreaBytes];  // 2 ExtentRecords, a short symlink, or a BlobRef
};
static_assert(sizeof(Inode) == 256);

// Directories. The directory's extent map holds three forks of logical
// blocks: entry blocks from file block 0, the index in fork A or B.
inline constexpr std::uint64_t kDirIndexForkA = 1ull << 32;  // in file blocks
inline constexpr std::uint64_t kDirIndexForkB = 1ull << 33;
inline constexpr std::uint32_t kDirMaxSlots = 1u << 24;
// The index holds at most twice the slots (it is kept at most 3/4 full).
inline constexpr std::uint32_t kMaxIndexLog2 = 25;

struct DirBlockHeader {
  le32 crc;             // covers the whole block
  le32 kind;            // kKindDirEntries or kKindDirIndex
  le64 owner;           // the directory's inode number
};
static_assert(sizeof(DirBlockHeader) == 16);

struct DirSlot {
  le64 ino;             // 0 = free slot
  le32 hash;            // live: hash of the name; free: next free slot + 1
  std::uint8_t name_length;
  std::uint8_t type;    // DT_* of the target
  le16 reserved;
  char name[256];
};
static_assert(sizeof(DirSlot) == 272);

struct DirIndexEntry {
  le32 hash;
  le32 slot_plus1;      // 0 = empty, kIndexTombstone = removed
};
static_assert(sizeof(DirIndexEntry) == 8);
inline constexpr std::uint32_t kIndexTombstone = 0xFFFFFFFFu;

// Extent chain block: header, then ExtentRecords.
struct ExtentBlockHeader {
  le32 crc;             // covers the whole block
  le32 kind;            // kKindExtents
  le64 owner;           // inode number
  le64 next;            // next chain block (media block), 0 = last
  le64 reserved;
};
static_assert(sizeof(ExtentBlockHeader) == 32);

// Blob (xattrs, long symlink targets): contiguous blocks, this header, then
// payload_bytes of payload. The crc covers header and payload.
struct BlobHeader {
  le32 crc;
  le32 kind;            // kKindXattr or kKindSymlink
  le64 owner;
  le32 payload_bytes;
  le32 item_count;
  le64 reserved;
};
static_assert(sizeof(BlobHeader) == 32);
// Xattr payload item: this, then the name, then the value.
struct XattrItem {
  std::uint8_t name_length;
  std::uint8_t reserved[3];
  le32 value_length;
};
static_assert(sizeof(XattrItem) == 8);

}  // namespace pinfs::fs::format
