#include "sentry/proc/proc_text.h"

#include <string>

#include "gtest/gtest.h"

namespace mqsentry::sentry::proc {
namespace {

// Captured from /proc/<pid>/status on kernel 6.18 (a thread in a nested PID namespace,
// with SIGUSR1 pending for the thread, SIGTERM for the group, SIGUSR1 blocked), trimmed of
// lines nothing reads.
constexpr char kStatus[] =
    "Name:\tmq_test\n"
    "Umask:\t0027\n"
    "State:\tS (sleeping)\n"
    "Tgid:\t15657\n"
    "Ngid:\t0\n"
    "Pid:\t15660\n"
    "PPid:\t15652\n"
    "TracerPid:\t0\n"
    "Uid:\t1000\t1001\t1002\t1003\n"
    "Gid:\t2000\t2001\t2002\t2003\n"
    "FDSize:\t256\n"
    "Groups:\t4 24 27 \n"
    "NStgid:\t15657\t2\n"
    "NSpid:\t15660\t5\n"
    "Threads:\t2\n"
    "SigQ:\t0/96367\n"
    "SigPnd:\t0000000000000200\n"
    "ShdPnd:\t0000000000004000\n"
    "SigBlk:\t0000000000000200\n"
    "SigIgn:\t0000000000000000\n"
    "SigCgt:\t0000000000000000\n"
    "CapInh:\t0000000000000000\n"
    "CapPrm:\t000001ffffffffff\n"
    "CapEff:\t000001ffffffffff\n"
    "CapBnd:\t00000000a80425fb\n"
    "CapAmb:\t0000000000000000\n"
    "NoNewPrivs:\t1\n"
    "Seccomp:\t2\n";

TEST(ParseStatus, ReadsEveryFieldTheSupervisorUses) {
  absl::StatusOr<Status> s = ParseStatus(kStatus);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->tgid, 15657);
  EXPECT_EQ(s->uid[0], 1000u);
  EXPECT_EQ(s->uid[3], 1003u);
  EXPECT_EQ(s->gid[1], 2001u);
  EXPECT_EQ(s->groups, (std::vector<uint32_t>{4, 24, 27}));
  EXPECT_EQ(s->nspid, (std::vector<int32_t>{15660, 5}));
  EXPECT_EQ(s->umask, 027u);
  EXPECT_EQ(s->cap_eff, 0x1ffffffffffull);
  EXPECT_EQ(s->cap_bnd, 0xa80425fbull);
  EXPECT_EQ(s->sig_pnd, 0x200u);
  EXPECT_EQ(s->shd_pnd, 0x4000u);
  EXPECT_EQ(s->sig_blk, 0x200u);
}

TEST(ParseStatus, UnblockedPendingSignalIsSeenThroughTheGroupQueue) {
  absl::StatusOr<Status> s = ParseStatus(kStatus);
  ASSERT_TRUE(s.ok());
  // SIGUSR1 (bit 9) is pending but blocked; SIGTERM (bit 14) is pending for the group.
  EXPECT_TRUE(HasUnblockedSignalPending(*s));
  s->shd_pnd = 0;
  EXPECT_FALSE(HasUnblockedSignalPending(*s));
}

TEST(ParseStatus, EmptyGroupsAndNoUmaskAreFine) {
  const std::string text = "Tgid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t \n";
  absl::StatusOr<Status> s = ParseStatus(text);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->groups.empty());
  EXPECT_FALSE(s->umask.has_value());
}

TEST(ParseStatus, MissingOrMalformedLinesAreInternalErrors) {
  EXPECT_FALSE(ParseStatus("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n").ok());  // no Tgid
  EXPECT_FALSE(ParseStatus("Tgid:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n").ok());
  EXPECT_FALSE(ParseStatus("Tgid:\t1\nUid:\t0\t0\t0\nGid:\t0\t0\t0\t0\n").ok());  // 3 uids
  EXPECT_FALSE(
      ParseStatus("Tgid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nSigPnd:\tzz\n").ok());
  EXPECT_FALSE(ParseStatus("Tgid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nUmask:\t0089\n").ok());
}

TEST(ParseStat, FieldsAfterACommWithSpacesAndParentheses) {
  // Captured from /proc/self/stat, with comm replaced by one that contains ") (".
  constexpr char kStat[] =
      "15659 (a) (b c) R 15652 15652 1265 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 58835 "
      "3133440 413 18446744073709551615 94174690840576 94174690860457 140725675185088 0 0 0 0 "
      "0 0 0 0 0 17 0 0 0 0 0 0\n";
  absl::StatusOr<Stat> s = ParseStat(kStat);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->priority, 20);
  EXPECT_EQ(s->start_time, 58835u);
}

TEST(ParseStat, TruncatedTextIsAnError) {
  EXPECT_FALSE(ParseStat("15659 (cat) R 15652").ok());
  EXPECT_FALSE(ParseStat("no parenthesis").ok());
}

}  // namespace
}  // namespace mqsentry::sentry::proc
