// The limits of the control protocol (docs/protocol.md, "Limits"): every
// size a peer can announce is checked against one of these before anything
// is allocated or read, so a malformed or hostile message costs an error,
// never memory or a read past the end.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pinfs::protocol {

// "PNFS" read as a little-endian u32: the first field of HELLO, so that a
// client that dialled the wrong socket (or a daemon that is not pinfsd) is
// told so instead of misreading bytes.
inline constexpr std::uint32_t kMagic = 0x53464e50;

// The versions this build speaks. The client offers [min, max]; the daemon
// picks the highest it also speaks, or refuses with EPROTONOSUPPORT.
inline constexpr std::uint16_t kMinProtocolVersion = 1;
inline constexpr std::uint16_t kProtocolVersion = 1;

// Every frame starts with a 16-byte header: u32 total length (header
// included), u16 kind, u16 flags (0), u64 request id.
inline constexpr std::size_t kFrameHeaderBytes = 16;

// The largest frame a client may send: 8 KiB. The largest request is an
// OPEN or BREAK naming a path of kMaxPathBytes; 8 KiB leaves room and bounds
// what one connection can make the daemon buffer.
inline constexpr std::size_t kMaxRequestBytes = 8 * 1024;

// The largest frame of any kind (the daemon's replies and events): 4 MiB.
// The largest replies are extent lists (kMaxExtents of 24 bytes, 1.5 MiB)
// and the JSON listings of `pinfs pins` / `pinfs leases`; a listing that
// would not fit is refused with E2BIG rather than cut.
inline constexpr std::size_t kMaxMessageBytes = 4 * 1024 * 1024;

// PATH_MAX - 1: a path as the kernel would accept it.
inline constexpr std::size_t kMaxPathBytes = 4095;
// The op, object and detail strings of an error reply, each.
inline constexpr std::size_t kMaxErrorTextBytes = 4096;
// Names: a client's self-description in HELLO, the daemon's version string,
// an RDMA device name (IB_DEVICE_NAME_MAX is 64).
inline constexpr std::size_t kMaxNameBytes = 256;
// Extents in one MAP or PIN_CREATE reply. A file of more extents than this
// cannot be mapped or pinned in one piece (E2BIG): pin it in ranges.
inline constexpr std::size_t kMaxExtents = 65536;
// Ranges in one event (a change covers one range per lease; a few spare).
inline constexpr std::size_t kMaxEventRanges = 64;
// Pins named in one REVOKED event.
inline constexpr std::size_t kMaxRevokedPins = 65536;
// The JSON text of a listing reply.
inline constexpr std::size_t kMaxJsonBytes = kMaxMessageBytes - 64;

}  // namespace pinfs::protocol
