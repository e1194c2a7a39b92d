// The parsers' test bench: a ParserContext whose sink keeps every event, fed text in either
// direction; shared by the protocol test files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/proto/proto.h"

namespace vigil::agent::proto {

using flow::StreamDir;

struct Harness {
  Harness() {
    ctx.ends = {IpAddress::v4(0x0a000001), IpAddress::v4(0x0a000002), 40000, 80, 0, 6};
    ctx.host_name = &host;
    ctx.sink = &sink;
    ctx.counters = &counters;
    ctx.options = &options;
  }
  void feed(StreamParser& p, StreamDir d, std::string_view text) {
    p.data(d, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()), Timestamp{1});
  }
  std::string str(size_t i, const char* name) const {
    const std::string* s = events.at(i).get_string(field(name));
    return s ? *s : std::string();
  }
  int64_t num(size_t i, const char* name) const {
    const int64_t* v = events.at(i).get_int(field(name));
    return v ? *v : -1;
  }
  std::string host = "h";
  std::vector<Event> events;
  EventSink sink = [this](Event&& e) { events.push_back(std::move(e)); };
  ProtoCounters counters;
  ProtoOptions options;
  ParserContext ctx;
};

}  // namespace vigil::agent::proto
