// A group's hits (agent/rules/hit.h): kept events dropped to their ids (packed:
// common/event/event.h), and the list against a std::vector kept beside it.
#include "agent/rules/hit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "common/event/event.h"

namespace vigil::agent::rules {
namespace {

// An event as the engine keeps it: its JSON line and its id.
KeptPtr event_with_id(const std::string& id) {
  return KeptEvent::make("{\"event\":{\"id\":\"" + id + "\"}}", id);
}

TEST(Hit, DroppingTheEventKeepsItsId) {
  const std::string agent_id = new_event_id();
  EXPECT_TRUE(event_with_id(agent_id)->id_packed);  // the agent's ids take 16 bytes
  EXPECT_FALSE(event_with_id("a-longer-id-from-another-tool-0123456789")->id_packed);
  for (const std::string& id : {agent_id, std::string("a-longer-id-from-another-tool-0123456789"), std::string("x"),
                                std::string()}) {
    Hit h(Timestamp{5}, event_with_id(id));
    ASSERT_TRUE(h.holds_event());
    EXPECT_EQ(*h.evidence(), "{\"event\":{\"id\":\"" + id + "\"}}");
    EXPECT_EQ(h.id(), id);
    EXPECT_TRUE(h.drop_event());
    EXPECT_FALSE(h.holds_event());
    EXPECT_FALSE(h.drop_event());  // nothing left to drop
    EXPECT_EQ(h.id(), id);
    EXPECT_EQ(h.time.ns, 5);
    Hit moved(std::move(h));
    EXPECT_EQ(moved.id(), id);
    EXPECT_EQ(h.id(), "");
    Hit assigned;
    assigned = std::move(moved);
    EXPECT_EQ(assigned.id(), id);
  }
  // The kept event is released when dropped; its JSON, handed to an alert, shares its ownership.
  auto e = event_with_id(agent_id);
  Hit h(Timestamp{1}, e);
  EXPECT_EQ(e.use_count(), 2);
  auto json = h.evidence();
  EXPECT_EQ(e.use_count(), 3);
  h.drop_event();
  EXPECT_EQ(e.use_count(), 2);
  EXPECT_EQ(h.id(), agent_id);
  json.reset();
  EXPECT_EQ(e.use_count(), 1);
  EXPECT_FALSE(Hit(Timestamp{1}, nullptr).holds_event());
}

TEST(HitList, AgreesWithAVectorThroughPushesErasesAndResizes) {
  std::mt19937 rng(11);
  HitList list;
  std::vector<std::string> model;  // ids, oldest first
  auto check = [&] {
    ASSERT_EQ(list.size(), model.size());
    size_t held = 0;
    for (size_t i = 0; i < model.size(); ++i) {
      EXPECT_EQ(list[i].id(), model[i]) << i;
      held += list[i].holds_event();
    }
    EXPECT_EQ(list.held(), held);
  };
  for (int step = 0; step < 20'000; ++step) {
    switch (rng() % 7) {
      case 0:
      case 1:
      case 2: {
        std::string id = new_event_id();
        list.push_back(Hit(Timestamp{step}, event_with_id(id)));
        model.push_back(id);
        break;
      }
      case 3:
        list.erase_front();
        if (!model.empty()) model.erase(model.begin());
        break;
      case 4: {  // drop every hit whose id ends in an even digit or letter
        auto odd = [](const std::string& id) { return !id.empty() && (id.back() & 1); };
        list.truncate(std::remove_if(list.begin(), list.end(), [&](const Hit& h) { return odd(h.id()); }));
        model.erase(std::remove_if(model.begin(), model.end(), odd), model.end());
        break;
      }
      case 5: {
        const size_t n = rng() % 4;
        list.resize(n);
        model.resize(n);
        break;
      }
      case 6:
        if (!model.empty()) list[rng() % model.size()].drop_event();
        if (rng() % 16 == 0) {
          HitList moved(std::move(list));
          EXPECT_TRUE(list.empty());
          list = std::move(moved);
        }
        break;
    }
    check();
    if (::testing::Test::HasFailure()) return;
  }
  list.clear();
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.held(), 0u);
}

}  // namespace
}  // namespace vigil::agent::rules
