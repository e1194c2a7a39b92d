// Fuzz target for the log parsers (libFuzzer entry point), with a standalone driver so CI runs a
// corpus plus deterministic mutations of it under GCC and the sanitizers.
//
// Input: the first byte picks the format (a digit 0-6, or any byte modulo 7), the rest is lines.
// Invariants checked on every line: exactly one event for a non-blank line, carrying the line in
// event.original, @timestamp, event.kind and event.dataset; the counters add up.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "agent/logs/log_parser.h"

namespace {

constexpr const char* kFormats[] = {"syslog", "nginx", "apache", "nginx_error", "apache_error", "auditd", "raw"};

void check(bool ok, const char* what, std::string_view line) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s on line [%.*s]\n", what, static_cast<int>(line.size()), line.data());
  std::abort();
}

}  // namespace

// One target per parser: -DVIGIL_FUZZ_FORMAT=N (libFuzzer builds) or --format NAME (standalone)
// fixes the format; the first byte then stays the format digit of the shared corpus files.
#ifdef VIGIL_FUZZ_FORMAT
int g_format = VIGIL_FUZZ_FORMAT;
#else
int g_format = -1;
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static std::unique_ptr<vigil::logs::LogParser> parsers[7];
  static const auto ctx = vigil::logs::ParseContext::at("fuzz", vigil::Timestamp::from_seconds(1'700'000'000), 3600);
  unsigned pick = g_format >= 0 ? static_cast<unsigned>(g_format)
                                : (data[0] >= '0' && data[0] <= '6') ? data[0] - '0' : data[0] % 7u;
  auto& parser = parsers[pick];
  if (!parser) parser = std::move(vigil::logs::make_parser(kFormats[pick]).value());
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  vigil::Event event;
  while (!input.empty()) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    auto before = parser->counters();
    parser->parse(line, ctx, event);
    const auto& after = parser->counters();
    std::string_view stripped = line;
    while (!stripped.empty() && (stripped.back() == '\r' || stripped.back() == '\n')) stripped.remove_suffix(1);
    if (after.empty > before.empty) {
      check(event.empty(), "blank line made an event", line);
      continue;
    }
    check(after.lines == before.lines + 1, "line not counted", line);
    check(after.parsed + after.unparsed == after.lines, "counters do not add up", line);
    const std::string* original = event.get_string(vigil::fields::event_original);
    check(original && *original == stripped, "event.original differs from the line", line);
    check(event.get_timestamp(vigil::fields::timestamp) != nullptr, "no @timestamp", line);
    check(event.get_string(vigil::fields::event_dataset) != nullptr, "no event.dataset", line);
    const std::string* kind = event.get_string(vigil::fields::event_kind);
    check(kind && *kind == "event", "event.kind is not event", line);
  }
  return 0;
}

#ifndef VIGIL_LIBFUZZER
// Standalone: logs_parser_fuzzer [--format NAME] [--mutations N] FILE|DIR...
int main(int argc, char** argv) {
  long mutations = 0;
  std::vector<std::vector<uint8_t>> inputs;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
      mutations = std::strtol(argv[++i], nullptr, 10);
      continue;
    }
    if (std::strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
      std::string_view name = argv[++i];
      auto it = std::find(std::begin(kFormats), std::end(kFormats), name);
      if (it == std::end(kFormats)) {
        std::fprintf(stderr, "unknown format %s\n", argv[i]);
        return 1;
      }
      g_format = static_cast<int>(it - std::begin(kFormats));
      continue;
    }
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(argv[i])) {
      for (const auto& entry : std::filesystem::directory_iterator(argv[i])) files.push_back(entry.path());
    } else {
      files.emplace_back(argv[i]);
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", f.c_str());
        return 1;
      }
      inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: %s [--mutations N] FILE|DIR...\n", argv[0]);
    return 1;
  }
  for (const auto& in : inputs) LLVMFuzzerTestOneInput(in.data(), in.size());
  // Deterministic mutations: byte flips, truncations, insertions of separators, splices.
  std::mt19937_64 rng(12345);
  static constexpr char kInteresting[] = {' ', '[', ']', ':', '"', '\'', '=', '<', '>', '\\', '\0', '\xff', '-', '.'};
  for (long m = 0; m < mutations; ++m) {
    std::vector<uint8_t> buf = inputs[rng() % inputs.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < edits && buf.size() > 1; ++k) {
      size_t pos = 1 + rng() % (buf.size() - 1);
      switch (rng() % 5) {
        case 0:
          buf[pos] = static_cast<uint8_t>(rng());
          break;
        case 1:
          buf[pos] = static_cast<uint8_t>(kInteresting[rng() % sizeof(kInteresting)]);
          break;
        case 2:
          buf.resize(pos);
          break;
        case 3:
          buf.insert(buf.begin() + static_cast<long>(pos),
                     static_cast<uint8_t>(kInteresting[rng() % sizeof(kInteresting)]));
          break;
        default: {
          const auto& other = inputs[rng() % inputs.size()];
          if (other.size() > 1) {
            size_t from = 1 + rng() % (other.size() - 1);
            buf.insert(buf.begin() + static_cast<long>(pos), other.begin() + static_cast<long>(from), other.end());
          }
        }
      }
    }
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
  }
  std::printf("logs_parser_fuzzer: %zu inputs, %ld mutations, no invariant broken\n", inputs.size(), mutations);
  return 0;
}
#endif
