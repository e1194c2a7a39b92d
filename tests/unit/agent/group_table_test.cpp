// The rule engine's group table (agent/rules/group_table.h) against a plain map and lists kept
// beside it: every key found where it was put, the least-recently-used orders (all groups and
// per class), slots reused.
#include "agent/rules/group_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace vigil::agent::rules {
namespace {

using Table = GroupTable<std::vector<int>>;

std::vector<std::string> order_of(const Table& t) {
  std::vector<std::string> keys;
  for (uint32_t id = t.front(); id != Table::kNone; id = t.next(id)) keys.push_back(std::to_string(t[id].at(0)));
  return keys;
}

TEST(GroupTable, FindsWhatItHoldsInLeastRecentlyUsedOrder) {
  Table t;
  std::map<std::string, uint32_t> ids;
  for (int i = 0; i < 5; ++i) {
    const std::string key = "k" + std::to_string(i);
    const uint32_t id = t.insert(key, t.hash(key, 0), 0);
    t[id].push_back(i);
    ids[key] = id;
  }
  EXPECT_EQ(t.size(), 5u);
  EXPECT_EQ(order_of(t), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  t.touch(ids["k1"]);
  t.touch(ids["k1"]);  // already the most recent: stays
  EXPECT_EQ(order_of(t), (std::vector<std::string>{"0", "2", "3", "4", "1"}));
  t.erase(ids["k0"]);
  t.erase(ids["k3"]);
  EXPECT_EQ(order_of(t), (std::vector<std::string>{"2", "4", "1"}));
  EXPECT_EQ(t.find("k0", t.hash("k0", 0), 0), Table::kNone);
  EXPECT_EQ(t.find("k3", t.hash("k3", 0), 0), Table::kNone);
  EXPECT_EQ(t.find("k2", t.hash("k2", 0), 0), ids["k2"]);
  // A freed slot comes back empty.
  const uint32_t again = t.insert("k9", t.hash("k9", 0), 0);
  EXPECT_TRUE(again == ids["k0"] || again == ids["k3"]);
  EXPECT_TRUE(t[again].empty());
  EXPECT_EQ(t.size(), 4u);
}

TEST(GroupTable, AgreesWithAMapThroughRandomInsertsErasesAndTouches) {
  Table t;
  std::map<std::string, uint32_t> model;  // key -> id
  std::list<std::string> lru;              // least recently used first
  std::mt19937 rng(7);
  // Keys short and long (up to 24 bytes in the slot, longer on the heap), some sharing their first
  // 16 bytes.
  auto cls_of = [](const std::string& key) { return static_cast<uint32_t>(key.size() % 4); };
  std::map<uint32_t, std::list<std::string>> class_lru;  // per class, least recently used first
  auto key_of = [](uint32_t n) {
    return n % 3 == 0 ? std::to_string(n) : std::string(n % 5 == 0 ? 40 : 16 + n % 7, 'x') + std::to_string(n);
  };
  for (int step = 0; step < 200'000; ++step) {
    const std::string key = key_of(rng() % 5000);
    const uint32_t hash = t.hash(key, cls_of(key));
    const uint32_t id = t.find(key, hash, cls_of(key));
    auto it = model.find(key);
    ASSERT_EQ(id != Table::kNone, it != model.end()) << key;
    if (it != model.end()) {
      ASSERT_EQ(id, it->second);
      ASSERT_EQ(t[id].at(0), static_cast<int>(std::hash<std::string>{}(key) & 0xffff));
      if (rng() % 2) {
        t.erase(id);
        model.erase(it);
        lru.remove(key);
        class_lru[cls_of(key)].remove(key);
      } else {
        t.touch(id);
        lru.remove(key);
        lru.push_back(key);
        class_lru[cls_of(key)].remove(key);
        class_lru[cls_of(key)].push_back(key);
      }
    } else {
      const uint32_t fresh = t.insert(key, hash, cls_of(key));
      ASSERT_TRUE(t[fresh].empty());
      t[fresh].push_back(static_cast<int>(std::hash<std::string>{}(key) & 0xffff));
      model[key] = fresh;
      lru.push_back(key);
      class_lru[cls_of(key)].push_back(key);
    }
    ASSERT_EQ(t.size(), model.size());
  }
  std::vector<uint32_t> walked;
  for (uint32_t id = t.front(); id != Table::kNone; id = t.next(id)) walked.push_back(id);
  std::vector<uint32_t> expected;
  for (const auto& k : lru) expected.push_back(model.at(k));
  EXPECT_EQ(walked, expected);
  for (const auto& [k, id] : model) {
    EXPECT_EQ(t.find(k, t.hash(k, cls_of(k)), cls_of(k)), id);
    EXPECT_EQ(t[id].at(0), static_cast<int>(std::hash<std::string>{}(k) & 0xffff));
  }
  // Each class's least recently used first: removing the class front each time walks its list.
  for (uint32_t cls = 0; cls < 4; ++cls) {
    std::vector<uint32_t> fronts;
    while (t.class_front(cls) != Table::kNone) {
      fronts.push_back(t.class_front(cls));
      t.erase(t.class_front(cls));
    }
    std::vector<uint32_t> want;
    for (const auto& k : class_lru[cls]) want.push_back(model.at(k));
    EXPECT_EQ(fronts, want) << "class " << cls;
  }
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.front(), Table::kNone);
  EXPECT_EQ(t.class_front(7), Table::kNone);  // a class never used
}

TEST(GroupTable, TheSameKeyInTwoClassesIsTwoGroups) {
  Table t;
  const std::string key(20, 'k');  // the longest kept in the slot
  const uint32_t a = t.insert(key, t.hash(key, 1), 1);
  t[a].push_back(1);
  EXPECT_EQ(t.find(key, t.hash(key, 2), 2), Table::kNone);
  const uint32_t b = t.insert(key, t.hash(key, 2), 2);
  t[b].push_back(2);
  EXPECT_NE(a, b);
  EXPECT_EQ(t.find(key, t.hash(key, 1), 1), a);
  EXPECT_EQ(t.find(key, t.hash(key, 2), 2), b);
  EXPECT_NE(t.hash(key, 1), t.hash(key, 2));
  t.erase(a);
  EXPECT_EQ(t.find(key, t.hash(key, 1), 1), Table::kNone);
  EXPECT_EQ(t.find(key, t.hash(key, 2), 2), b);
}

TEST(GroupTable, HashesDependOnEveryByte) {
  Table t;
  // Lengths ending in each branch: whole 16-byte blocks, a tail of up to 8, and of 9-15.
  for (size_t len : {7u, 8u, 16u, 40u, 44u}) {
    const std::string base(len, 'a');
    const uint32_t h = t.hash(base, 3);
    for (size_t i = 0; i < base.size(); ++i) {
      std::string changed = base;
      changed[i] = 'b';
      EXPECT_NE(t.hash(changed, 3), h) << len << " " << i;
    }
    EXPECT_NE(t.hash(base.substr(0, len - 1), 3), h) << len;
  }
  EXPECT_NE(t.hash("", 0), t.hash(std::string(1, '\0'), 0));
}

}  // namespace
}  // namespace vigil::agent::rules
