// Benchmarks refuse to report from a debug build (STYLE.md rule 13): with
// assertions on or without optimisation the figures describe the build, not
// pinfs, and a ratio against a kernel anchor (always optimised) would lie.
//
// bench/meson.build passes the build's meson options in as macros, so the
// check sees what the whole project (fs/ included) was compiled with, not
// only this file.
#pragma once

#include <optional>
#include <string>

#ifndef PINFS_BENCH_BUILDTYPE
#error "bench/meson.build defines PINFS_BENCH_BUILDTYPE and PINFS_BENCH_OPTIMIZATION"
#endif

namespace pinfs::bench {

inline constexpr const char* kBuildType = PINFS_BENCH_BUILDTYPE;
inline constexpr const char* kOptimization = PINFS_BENCH_OPTIMIZATION;

inline bool assertions_enabled() {
#ifdef NDEBUG
  return false;
#else
  return true;
#endif
}

// Why this build must not report figures, or nullopt when it may.
inline std::optional<std::string> debug_build_reason() {
  std::string why;
  if (assertions_enabled()) why = "assertions are on (NDEBUG is not defined)";
  const std::string opt = kOptimization;
  if (opt != "2" && opt != "3" && opt != "s") {
    if (!why.empty()) why += ", ";
    why += "optimization=" + opt;
  }
  if (why.empty()) return std::nullopt;
  return "buildtype=" + std::string(kBuildType) + ": " + why +
         "; configure with: meson setup BUILD -Dbuildtype=release";
}

// Exit status of a benchmark that refused to report.
inline constexpr int kExitRefusedDebugBuild = 3;

}  // namespace pinfs::bench
