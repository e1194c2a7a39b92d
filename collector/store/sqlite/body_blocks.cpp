#include "collector/store/sqlite/body_blocks.h"

#include <sqlite3.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

namespace vigil::collector::body_blocks {

namespace {

// A block before compression: the slot count, each slot's end within the bodies (all
// little-endian 32-bit), then the bodies one after the other.
void put_u32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16), static_cast<char>(v >> 24)};
  out.append(b, 4);
}

uint32_t get_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

// Level 1, the fastest of the normal levels: the simulator's mix of bodies in 16 KiB blocks
// shrinks 5.5x at ~570 MB/s on one core of a 2-core machine (zstd -b1 -B16384).
constexpr int kLevel = 1;

}  // namespace

std::vector<Ref> pack(const std::vector<IncomingRecord>& records) {
  std::vector<Ref> refs(records.size());
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  std::string payload, frame;
  size_t i = 0;
  while (i < records.size()) {
    // The block: records from i while it holds fewer than kBlockRecords and under kBlockBytes.
    size_t end = i, bytes = 0;
    while (end < records.size() && end - i < kBlockRecords && (end == i || bytes + records[end].json.size() <= kBlockBytes)) {
      bytes += records[end].json.size();
      ++end;
    }
    payload.clear();
    payload.reserve(4 + 4 * (end - i) + bytes);
    put_u32(payload, static_cast<uint32_t>(end - i));
    uint32_t at = 0;
    for (size_t r = i; r < end; ++r) put_u32(payload, at += static_cast<uint32_t>(records[r].json.size()));
    for (size_t r = i; r < end; ++r) payload += records[r].json;
    frame.resize(ZSTD_compressBound(payload.size()));
    size_t n = cctx ? ZSTD_compressCCtx(cctx.get(), frame.data(), frame.size(), payload.data(), payload.size(), kLevel)
                    : ZSTD_compress(frame.data(), frame.size(), payload.data(), payload.size(), kLevel);
    if (ZSTD_isError(n)) n = 0;  // cannot happen with a bound-sized output; an empty block reads as an error
    auto block = std::make_shared<const std::string>(frame.data(), n);
    for (size_t r = i; r < end; ++r) refs[r] = Ref{block, static_cast<uint32_t>(r - i)};
    i = end;
  }
  return refs;
}

void pack_records(std::vector<IncomingRecord>& records) {
  auto refs = pack(records);
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].body_block = std::move(refs[i].block);
    records[i].body_slot = refs[i].slot;
  }
}

bool Reader::read(int64_t id, std::string_view data, size_t slot, std::string_view& body, std::string& error) {
  Entry* hit = nullptr;
  for (auto& e : entries_) {
    if (e.id == id && e.stored.size() == data.size() && std::memcmp(e.stored.data(), data.data(), data.size()) == 0) {
      hit = &e;
      break;
    }
  }
  if (!hit) {
    const unsigned long long size = ZSTD_getFrameContentSize(data.data(), data.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size < 4 || size > kMaxBlockBytes) {
      error = "not a block of event bodies";
      return false;
    }
    // The least recently used entry, or a new one while there are fewer than kEntries.
    if (entries_.size() < kEntries) {
      hit = &entries_.emplace_back();
    } else {
      hit = &*std::min_element(entries_.begin(), entries_.end(),
                               [](const Entry& a, const Entry& b) { return a.used < b.used; });
    }
    hit->id = 0;
    hit->stored.clear();
    if (hit->payload.capacity() > 8 * kBlockBytes) std::string().swap(hit->payload);  // a large one's memory goes
    hit->payload.resize(size);
    const size_t n = ZSTD_decompress(hit->payload.data(), hit->payload.size(), data.data(), data.size());
    const uint32_t count = ZSTD_isError(n) || n != size ? 0 : get_u32(hit->payload.data());
    if (count == 0 || (size - 4) / 4 < count) {
      error = "a block of event bodies that does not decompress";
      hit->payload.clear();
      return false;
    }
    hit->bodies_at = 4 + size_t{count} * 4;
    hit->ends.resize(count);
    uint32_t before = 0;
    for (uint32_t s = 0; s < count; ++s) {
      hit->ends[s] = get_u32(hit->payload.data() + 4 + s * 4);
      if (hit->ends[s] < before || hit->ends[s] > size - hit->bodies_at) {
        error = "a block of event bodies whose slots do not fit it";
        hit->payload.clear();
        hit->ends.clear();
        return false;
      }
      before = hit->ends[s];
    }
    hit->id = id;
    hit->stored.assign(data);
  }
  // A large block (one large body) is the first to go at the next miss.
  hit->used = hit->payload.size() > 8 * kBlockBytes ? 0 : ++clock_;
  if (slot >= hit->ends.size()) {
    error = "no such slot in a block of event bodies";
    return false;
  }
  const uint32_t from = slot == 0 ? 0 : hit->ends[slot - 1];
  body = std::string_view(hit->payload).substr(hit->bodies_at + from, hit->ends[slot] - from);
  return true;
}

void add_sql_function(sqlite3* db) {
  sqlite3_create_function_v2(
      db, "vigil_body", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, new Reader,
      [](sqlite3_context* ctx, int, sqlite3_value** argv) {
        if (sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(ctx);
        const auto* data = static_cast<const char*>(sqlite3_value_blob(argv[1]));
        const std::string_view block(data ? data : "", static_cast<size_t>(sqlite3_value_bytes(argv[1])));
        const int64_t slot = sqlite3_value_int64(argv[2]);
        std::string_view body;
        std::string error;
        auto* reader = static_cast<Reader*>(sqlite3_user_data(ctx));
        if (slot < 0 || !reader->read(sqlite3_value_int64(argv[0]), block, static_cast<size_t>(slot), body, error)) {
          return sqlite3_result_error(ctx, error.empty() ? "no such slot in a block of event bodies" : error.c_str(), -1);
        }
        sqlite3_result_text(ctx, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
      },
      nullptr, nullptr, [](void* reader) { delete static_cast<Reader*>(reader); });
}

}  // namespace vigil::collector::body_blocks
