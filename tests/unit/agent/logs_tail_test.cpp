// FileTail: every line exactly once across rotation (rename + create), copytruncate, truncation,
// partial lines and restarts, and resume_at after a crash.
#include "agent/logs/file_tail.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace vigil::logs {
namespace {

namespace fs = std::filesystem;

class TailTest : public ::testing::Test {
 protected:
  fs::path log() const { return dir_.path() / "app.log"; }
  fs::path state() const { return dir_.path() / "state"; }
  void append(const std::string& text) const {
    std::ofstream out(log(), std::ios::app | std::ios::binary);
    out << text;
  }
  std::vector<std::string> poll(FileTail& t) {
    std::vector<std::string> got;
    t.poll([&](std::string_view line) { got.emplace_back(line); });
    return got;
  }
  vigil::test::TempDir dir_;
};

using Lines = std::vector<std::string>;

TEST_F(TailTest, DeliversCompleteLinesOnlyAndTheirEnds) {
  append("one\ntw");
  FileTail t(log(), state());
  std::vector<uint64_t> ends;
  Lines got;
  t.poll([&](std::string_view line) {
    got.emplace_back(line);
    ends.push_back(t.line_end());
  });
  EXPECT_EQ(got, Lines{"one"});
  EXPECT_EQ(ends, std::vector<uint64_t>{4});
  append("o\nthree\n");
  EXPECT_EQ(poll(t), (Lines{"two", "three"}));
  EXPECT_EQ(poll(t), Lines{});
}

TEST_F(TailTest, RestartContinuesAfterTheCommittedLineAndRereadsUncommitted) {
  append("a\nb\n");
  {
    FileTail t(log(), state());
    EXPECT_EQ(poll(t), (Lines{"a", "b"}));
    t.commit(7);
    append("c\npart");
    EXPECT_EQ(poll(t), Lines{"c"});  // delivered but never committed: read again after a crash
  }
  FileTail again(log(), state());
  EXPECT_EQ(again.committed_seq(), 7u);
  append("ial\n");
  EXPECT_EQ(poll(again), (Lines{"c", "partial"}));
}

TEST_F(TailTest, ResumeAtSkipsLinesAlreadySpooled) {
  append("a\nb\nc\n");
  uint64_t dev = 0, ino = 0;
  {
    FileTail t(log(), state());
    EXPECT_EQ(poll(t).size(), 3u);
    t.commit(1);
    dev = t.device();
    ino = t.inode();
  }
  append("d\ne\n");
  FileTail again(log(), state());
  again.resume_at(dev, ino, 8);      // "d\n" was spooled before the crash
  again.resume_at(dev + 1, ino, 10);  // another file's position: ignored
  EXPECT_EQ(poll(again), Lines{"e"});
}

TEST_F(TailTest, ResumeAtWorksBeforeAnyCommit) {
  append("a\nb\n");
  uint64_t dev = 0, ino = 0;
  {
    FileTail t(log(), state());
    EXPECT_EQ(poll(t).size(), 2u);
    dev = t.device();
    ino = t.inode();
  }  // killed before its first commit
  FileTail again(log(), state());
  again.resume_at(dev, ino, 2);
  EXPECT_EQ(poll(again), Lines{"b"});
}

TEST_F(TailTest, RenameAndCreateReadsTheRestOfTheOldFileFirst) {
  append("1\n2\n");
  FileTail t(log(), state());
  EXPECT_EQ(poll(t), (Lines{"1", "2"}));
  append("3\n");
  fs::rename(log(), dir_.path() / "app.log.1");
  append("4\n");
  EXPECT_EQ(poll(t), (Lines{"3", "4"}));
  EXPECT_EQ(t.counters().rotations, 1u);
  append("5\n");
  EXPECT_EQ(poll(t), Lines{"5"});
}

TEST_F(TailTest, CopytruncateAndTruncationStartOver) {
  append("1\n2\n3\n");
  FileTail t(log(), state());
  EXPECT_EQ(poll(t).size(), 3u);
  fs::copy_file(log(), dir_.path() / "app.log.1");
  fs::resize_file(log(), 0);
  append("4\n");
  EXPECT_EQ(poll(t), Lines{"4"});
  EXPECT_EQ(t.counters().truncations, 1u);
}

// Truncated and rewritten to the old size or beyond between two reads: the size alone shows
// nothing, the fingerprint of the first bytes does. Also after a restart.
TEST_F(TailTest, RewrittenPastTheOldOffsetIsSeenByItsFirstBytes) {
  append("line 01\nline 02\nline 03\n");
  {
    FileTail t(log(), state());
    EXPECT_EQ(poll(t).size(), 3u);
    fs::resize_file(log(), 0);
    append("line 04\nline 05\nline 06\nline 07\n");
    EXPECT_EQ(poll(t), (Lines{"line 04", "line 05", "line 06", "line 07"}));
    EXPECT_EQ(t.counters().truncations, 1u);
    EXPECT_EQ(poll(t), Lines{});
    t.commit();
  }
  fs::resize_file(log(), 0);
  append("line 08\nline 09\nline 10\nline 11\n");  // same size as before the stop
  FileTail again(log(), state());
  EXPECT_EQ(poll(again), (Lines{"line 08", "line 09", "line 10", "line 11"}));
  // Appending alone is not a rewrite.
  append("line 12\n");
  EXPECT_EQ(poll(again), Lines{"line 12"});
  EXPECT_EQ(again.counters().truncations, 1u);
}

// Rotated (rename + create) while the agent was stopped: the rest of the renamed file first,
// then the new one, nothing twice.
TEST_F(TailTest, RotationWhileStoppedReadsTheRenamedFilesRestFirst) {
  append("a\nb\n");
  {
    FileTail t(log(), state());
    EXPECT_EQ(poll(t).size(), 2u);
    t.commit();
  }
  append("c\n");
  fs::rename(log(), dir_.path() / "app.log.1");
  std::ofstream(dir_.path() / "app.log.1", std::ios::app) << "d\n";
  append("e\n");
  FileTail again(log(), state());
  EXPECT_EQ(poll(again), (Lines{"c", "d", "e"}));
  EXPECT_EQ(again.counters().rotations_while_stopped, 1u);
  EXPECT_EQ(poll(again), Lines{});
}

TEST_F(TailTest, OverlongLinesAreCutAndCounted) {
  append(std::string(100, 'x') + "\nshort\n");
  FileTail t(log(), state(), 40);
  EXPECT_EQ(poll(t), (Lines{std::string(40, 'x'), "short"}));
  EXPECT_EQ(t.counters().long_lines_cut, 1u);
  // A line longer than the cap that is still being written: cut once, its rest dropped.
  append(std::string(70000, 'y'));
  EXPECT_EQ(poll(t), Lines{std::string(40, 'y')});
  append(std::string(100, 'y') + "\nafter\n");
  EXPECT_EQ(poll(t), Lines{"after"});
  EXPECT_EQ(t.counters().long_lines_cut, 2u);
  EXPECT_EQ(t.counters().lines, 4u);
}

}  // namespace
}  // namespace vigil::logs
