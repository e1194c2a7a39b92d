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

// Retention's classes (the store's purge): alerts' records go with their alerts, health records
// (metric) and the other events each at their own cutoff. A block holds one class, so a record
// kept longer does not keep the bodies around it.
int retention_class(const IncomingRecord& r) { return r.kind == "alert" ? 0 : r.kind == "metric" ? 1 : 2; }

}  // namespace

std::vector<Ref> pack(const std::vector<IncomingRecord>& records) {
  std::vector<Ref> refs(records.size());
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!cctx) return refs;  // none packed: the writer tries again
  std::string payload, frame;
  std::vector<size_t> members;  // the records of one class, in order
  for (int cls = 0; cls < 3; ++cls) {
    members.clear();
    for (size_t r = 0; r < records.size(); ++r) {
      if (retention_class(records[r]) == cls) members.push_back(r);
    }
    size_t i = 0;
    while (i < members.size()) {
      // The block: members from i while it holds fewer than kBlockRecords and under kBlockBytes.
      size_t end = i, bytes = 0;
      while (end < members.size() && end - i < kBlockRecords &&
             (end == i || bytes + records[members[end]].json.size() <= kBlockBytes)) {
        bytes += records[members[end]].json.size();
        ++end;
      }
      payload.clear();
      payload.reserve(4 + 4 * (end - i) + bytes);
      put_u32(payload, static_cast<uint32_t>(end - i));
      uint32_t at = 0;
      for (size_t m = i; m < end; ++m) put_u32(payload, at += static_cast<uint32_t>(records[members[m]].json.size()));
      for (size_t m = i; m < end; ++m) payload += records[members[m]].json;
      frame.resize(ZSTD_compressBound(payload.size()));
      const size_t n = ZSTD_compressCCtx(cctx.get(), frame.data(), frame.size(), payload.data(), payload.size(), kLevel);
      if (!ZSTD_isError(n)) {  // else those records stay unpacked: the writer tries again
        auto block = std::make_shared<const std::string>(frame.data(), n);
        for (size_t m = i; m < end; ++m) refs[members[m]] = Ref{block, static_cast<uint32_t>(m - i)};
      }
      i = end;
    }
  }
  return refs;
}

bool Reader::read(int64_t id, std::string_view data, size_t slot, std::string_view& body, std::string& error) {
  auto holds = [&](const Entry& e) {
    return e.id == id && !e.ends.empty() && e.stored.size() == data.size() &&
           std::memcmp(e.stored.data(), data.data(), data.size()) == 0;
  };
  Entry* hit = holds(scratch_) ? &scratch_ : nullptr;
  for (auto& e : entries_) {
    if (hit) break;
    if (holds(e)) hit = &e;
  }
  if (!hit) {
    std::string().swap(scratch_.payload);  // a large block read last goes at the next miss
    std::string().swap(scratch_.stored);
    scratch_.ends.clear();
    const unsigned long long size = ZSTD_getFrameContentSize(data.data(), data.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size < 4 || size > kMaxBlockBytes) {
      error = "not a block of event bodies";
      return false;
    }
    // A large block (one large body) is read into the scratch entry, kept until the next miss;
    // the others into the least recently used entry, or a new one while there are fewer than
    // kEntries.
    if (size > kKeptBlockBytes) {
      hit = &scratch_;
    } else if (entries_.size() < kEntries) {
      hit = &entries_.emplace_back();
    } else {
      hit = &*std::min_element(entries_.begin(), entries_.end(),
                               [](const Entry& a, const Entry& b) { return a.used < b.used; });
    }
    // Emptied first, named last: an entry whose filling failed (or ran out of memory) is never a hit.
    hit->id = 0;
    hit->stored.clear();
    hit->ends.clear();
    decoded_bytes_ += size;
    if (!decode(data, static_cast<size_t>(size), *hit, error)) {
      hit->payload.clear();
      hit->ends.clear();
      return false;
    }
    hit->stored.assign(data);
    hit->id = id;
  }
  hit->used = ++clock_;
  if (slot >= hit->ends.size()) {
    error = "no such slot in a block of event bodies";
    return false;
  }
  const uint32_t from = slot == 0 ? 0 : hit->ends[slot - 1];
  body = std::string_view(hit->payload).substr(hit->bodies_at + from, hit->ends[slot] - from);
  return true;
}

bool Reader::decode(std::string_view data, size_t size, Entry& e, std::string& error) {
  e.payload.resize(size);
  const size_t n = ZSTD_decompress(e.payload.data(), e.payload.size(), data.data(), data.size());
  const uint32_t count = ZSTD_isError(n) || n != size ? 0 : get_u32(e.payload.data());
  if (count == 0 || (size - 4) / 4 < count) {
    error = "a block of event bodies that does not decompress";
    return false;
  }
  e.bodies_at = 4 + size_t{count} * 4;
  e.ends.resize(count);
  uint32_t before = 0;
  for (uint32_t s = 0; s < count; ++s) {
    e.ends[s] = get_u32(e.payload.data() + 4 + s * 4);
    if (e.ends[s] < before || e.ends[s] > size - e.bodies_at) {
      error = "a block of event bodies whose slots do not fit it";
      return false;
    }
    before = e.ends[s];
  }
  return true;
}

Reader* add_sql_function(sqlite3* db) {
  // vigil_body(id, data, slot[, lenient]): lenient (retention) answers NULL for a block that
  // cannot be read, so one damaged block does not hold retention back for good.
  auto body = [](sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    if (argc != 3 && argc != 4) return sqlite3_result_error(ctx, "vigil_body takes 3 or 4 arguments", -1);
    if (sqlite3_value_type(argv[1]) == SQLITE_NULL) return sqlite3_result_null(ctx);
    const auto* data = static_cast<const char*>(sqlite3_value_blob(argv[1]));
    const std::string_view block(data ? data : "", static_cast<size_t>(sqlite3_value_bytes(argv[1])));
    const int64_t slot = sqlite3_value_int64(argv[2]);
    const bool lenient = argc == 4 && sqlite3_value_int64(argv[3]) != 0;
    std::string_view out;
    std::string error = "no such slot in a block of event bodies";
    auto* reader = static_cast<Reader*>(sqlite3_user_data(ctx));
    try {
      if (slot >= 0 && reader->read(sqlite3_value_int64(argv[0]), block, static_cast<size_t>(slot), out, error)) {
        return sqlite3_result_text(ctx, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
      }
    } catch (const std::exception& e) {  // out of memory
      error = e.what();
    }
    if (lenient) {
      reader->count_unreadable();
      return sqlite3_result_null(ctx);
    }
    sqlite3_result_error(ctx, error.c_str(), -1);
  };
  // INNOCUOUS: the records view calls it, which SQLite allows with trusted_schema off only then.
  auto* reader = new Reader;
  // On failure SQLite has called the destructor already: no reader to count with.
  const int rc = sqlite3_create_function_v2(db, "vigil_body", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                            reader, body, nullptr, nullptr, [](void* r) { delete static_cast<Reader*>(r); });
  return rc == SQLITE_OK ? reader : nullptr;
}

}  // namespace vigil::collector::body_blocks
