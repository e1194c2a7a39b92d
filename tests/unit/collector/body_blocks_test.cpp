// Event bodies in compressed blocks (collector/store/sqlite/body_blocks.h): packing and reading
// back, bad blocks, the reader's cache.
#include "collector/store/sqlite/body_blocks.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <map>
#include <string>
#include <vector>

namespace vigil::collector {
namespace {

IncomingRecord with_body(std::string json) {
  IncomingRecord r;
  r.json = std::move(json);
  return r;
}

std::string frame_of(const std::string& payload) {
  std::string out(ZSTD_compressBound(payload.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), payload.data(), payload.size(), 1));
  return out;
}

std::string u32(uint32_t v) {
  return std::string{static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 24)};
}

TEST(BodyBlocks, EveryBodyReadsBackFromItsBlock) {
  std::vector<IncomingRecord> records;
  for (int i = 0; i < 150; ++i) {
    records.push_back(with_body("{\"event\":{\"original\":\"line " + std::to_string(i) + " " +
                                std::string(static_cast<size_t>(i % 7) * 40, 'x') + "\"}}"));
  }
  records.push_back(with_body(""));                                            // empty
  records.push_back(with_body("{\"big\":\"" + std::string(40'000, 'b') + "\"}"));  // over a block alone
  records.push_back(with_body("{\"after\":1}"));
  const auto refs = body_blocks::pack(records);
  ASSERT_EQ(refs.size(), records.size());
  // Blocks are runs of consecutive records, at most kBlockRecords each and under kBlockBytes
  // unless one record alone is larger; slots count from 0 in each.
  std::map<const std::string*, int64_t> blocks;  // each block's id, as the store numbers them
  size_t run = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    ASSERT_TRUE(refs[i].block);
    const bool same = i > 0 && refs[i].block == refs[i - 1].block;
    if (same) {
      EXPECT_EQ(refs[i].slot, refs[i - 1].slot + 1) << i;
    } else {
      EXPECT_EQ(refs[i].slot, 0u) << i;
      EXPECT_TRUE(blocks.emplace(refs[i].block.get(), static_cast<int64_t>(blocks.size()) + 1).second)
          << "a block is a run of consecutive records";
    }
    run = same ? run + 1 : 1;
    EXPECT_LE(run, body_blocks::kBlockRecords);
  }
  EXPECT_GE(blocks.size(), 4u);  // 150 records of ~150 bytes: at least 3 blocks by count, the big one alone
  EXPECT_TRUE(refs[151].block != refs[150].block && refs[151].block != refs[152].block);
  body_blocks::Reader reader;
  for (size_t i = 0; i < records.size(); ++i) {
    std::string_view body;
    std::string error;
    ASSERT_TRUE(reader.read(blocks[refs[i].block.get()], *refs[i].block, refs[i].slot, body, error))
        << i << ": " << error;
    EXPECT_EQ(body, records[i].json) << i;
  }
}

TEST(BodyBlocks, ABadBlockIsAnErrorNotACrash) {
  body_blocks::Reader reader;
  std::string_view body;
  auto refused = [&](const std::string& data, size_t slot) {
    std::string error;
    const bool ok = reader.read(7, data, slot, body, error);
    EXPECT_FALSE(error.empty() && !ok);
    return !ok;
  };
  EXPECT_TRUE(refused("", 0));
  EXPECT_TRUE(refused("not zstd at all", 0));
  const std::string good = frame_of(u32(2) + u32(3) + u32(5) + "abcde");
  EXPECT_TRUE(refused(good.substr(0, good.size() - 3), 0));  // truncated
  EXPECT_TRUE(refused(good, 2));                               // no such slot
  EXPECT_TRUE(refused(frame_of(u32(0)), 0));                   // no slots
  EXPECT_TRUE(refused(frame_of(u32(1'000'000) + "ab"), 0));    // more slots than it holds
  EXPECT_TRUE(refused(frame_of(u32(2) + u32(4) + u32(3) + "abcde"), 0));  // ends going back
  EXPECT_TRUE(refused(frame_of(u32(1) + u32(99) + "abcde"), 0));          // an end past the bodies
  EXPECT_TRUE(refused("", 0));  // after failures: nothing of them is taken for a block
  std::string error;
  ASSERT_TRUE(reader.read(7, good, 1, body, error)) << error;
  EXPECT_EQ(body, "de");
  ASSERT_TRUE(reader.read(7, good, 0, body, error)) << error;
  EXPECT_EQ(body, "abc");
}

// A block holds records of one retention class (alerts' records, health records, the other
// events), so a record kept longer does not keep the others' bodies; each class in its order.
TEST(BodyBlocks, ABlockHoldsOneRetentionClass) {
  std::vector<IncomingRecord> records;
  const char* kinds[] = {"event", "alert", "metric", "state", "event", "alert"};
  for (int i = 0; i < 12; ++i) {
    records.push_back(with_body("{\"n\":" + std::to_string(i) + "}"));
    records.back().kind = kinds[i % 6];
  }
  const auto refs = body_blocks::pack(records);
  auto cls = [](const std::string& kind) { return kind == "alert" ? 0 : kind == "metric" ? 1 : 2; };
  std::map<const std::string*, std::vector<size_t>> members;
  for (size_t i = 0; i < refs.size(); ++i) members[refs[i].block.get()].push_back(i);
  EXPECT_EQ(members.size(), 3u);
  body_blocks::Reader reader;
  for (const auto& [block, in] : members) {
    for (size_t k = 0; k < in.size(); ++k) {
      EXPECT_EQ(cls(records[in[k]].kind), cls(records[in.front()].kind));
      EXPECT_EQ(refs[in[k]].slot, k);  // in the records' order
      std::string_view body;
      std::string error;
      ASSERT_TRUE(reader.read(1 + static_cast<int64_t>(in.front()), *block, refs[in[k]].slot, body, error)) << error;
      EXPECT_EQ(body, records[in[k]].json);
    }
  }
}

// A block kept by id is checked against the stored bytes: other data under the same id (a
// database replaced under a running reader) is read, not the kept one.
TEST(BodyBlocks, AKeptBlockIsCheckedAgainstTheStoredBytes) {
  body_blocks::Reader reader;
  std::string_view body;
  std::string error;
  const std::string first = frame_of(u32(1) + u32(5) + "first");
  const std::string second = frame_of(u32(1) + u32(6) + "second");
  ASSERT_TRUE(reader.read(1, first, 0, body, error)) << error;
  EXPECT_EQ(body, "first");
  ASSERT_TRUE(reader.read(1, second, 0, body, error)) << error;
  EXPECT_EQ(body, "second");
  // More blocks than the reader keeps: each still reads right.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 300; ++i) {
      const std::string text = "block" + std::to_string(i);
      const std::string data = frame_of(u32(1) + u32(static_cast<uint32_t>(text.size())) + text);
      ASSERT_TRUE(reader.read(100 + i, data, 0, body, error)) << error;
      EXPECT_EQ(body, text);
    }
  }
}

// A block larger than the reader keeps (one large body) is kept until the next miss: the rows
// of one statement that read it again and again, between hits, decompress it once.
TEST(BodyBlocks, ALargeBlockIsKeptUntilTheNextMiss) {
  const std::string large = "{\"big\":\"" + std::string(100'000, 'b') + "\"}";
  std::vector<IncomingRecord> records{with_body(large)};
  const auto big = body_blocks::pack(records);
  records = {with_body("{\"small\":1}")};
  const auto small = body_blocks::pack(records);
  ASSERT_TRUE(big[0].block && small[0].block);
  body_blocks::Reader reader;
  std::string_view body;
  std::string error;
  ASSERT_TRUE(reader.read(1, *big[0].block, 0, body, error)) << error;
  EXPECT_EQ(body, large);
  const uint64_t once = reader.decoded_bytes();
  EXPECT_GT(once, 100'000u);
  ASSERT_TRUE(reader.read(1, *big[0].block, 0, body, error)) << error;
  EXPECT_EQ(body, large);
  EXPECT_EQ(reader.decoded_bytes(), once);  // kept
  const uint64_t small_bytes = 4 + 4 + 11;  // count, end, body
  ASSERT_TRUE(reader.read(2, *small[0].block, 0, body, error)) << error;  // a miss: the large one goes
  EXPECT_EQ(body, "{\"small\":1}");
  ASSERT_TRUE(reader.read(1, *big[0].block, 0, body, error)) << error;
  EXPECT_EQ(body, large);
  EXPECT_EQ(reader.decoded_bytes(), 2 * once + small_bytes);
  ASSERT_TRUE(reader.read(2, *small[0].block, 0, body, error)) << error;  // a hit: the large one stays
  ASSERT_TRUE(reader.read(1, *big[0].block, 0, body, error)) << error;
  EXPECT_EQ(body, large);
  EXPECT_EQ(reader.decoded_bytes(), 2 * once + small_bytes);
}

}  // namespace
}  // namespace vigil::collector
