// Partition assignors (assignors.c): coverage, balance, and that sticky moves
// the fewest partitions.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "assignors.h"
}

namespace
{

using Assignment = std::vector<std::vector<std::pair<std::string, int>>>;

struct Group {
    std::vector<asg_topic_t> topics;
    std::vector<std::vector<const char *>> subs;

    // Runs the assignor with `prev` as each member's previous target.
    Assignment run(const char *name, const Assignment &prev, mq_err_t *err = nullptr)
    {
        std::vector<asg_member_t> ms(subs.size());
        std::vector<std::vector<asg_tp_t>> p(subs.size());
        for (size_t m = 0; m < subs.size(); m++) {
            if (m < prev.size())
                for (auto &tp : prev[m])
                    p[m].push_back({tp.first.c_str(), tp.second});
            ms[m].subs = subs[m].data();
            ms[m].n_subs = subs[m].size();
            ms[m].prev = p[m].data();
            ms[m].n_prev = p[m].size();
        }
        mq_err_t e = assign(name, topics.data(), topics.size(), ms.data(), ms.size());
        if (err)
            *err = e;
        Assignment out(subs.size());
        if (e != MQ_OK)
            return out;
        for (size_t m = 0; m < ms.size(); m++)
            for (size_t i = 0; i < ms[m].n_out; i++)
                out[m].push_back({ms[m].out[i].topic, ms[m].out[i].partition});
        asg_free_results(ms.data(), ms.size());
        return out;
    }
};

// Every partition of a subscribed topic is owned exactly once, by a member
// that subscribes to its topic.
void check_cover(const Group &g, const Assignment &a)
{
    std::map<std::pair<std::string, int>, int> owners;
    for (size_t m = 0; m < a.size(); m++) {
        for (auto &tp : a[m]) {
            bool subscribed = false;
            for (auto s : g.subs[m])
                subscribed |= tp.first == s;
            EXPECT_TRUE(subscribed) << "member " << m << " got " << tp.first;
            EXPECT_EQ(owners[tp]++, 0) << tp.first << "/" << tp.second << " owned twice";
        }
    }
    for (auto &t : g.topics) {
        bool wanted = false;
        for (auto &s : g.subs)
            for (auto n : s)
                wanted |= std::string(n) == t.name;
        for (int p = 0; p < t.partitions; p++)
            EXPECT_EQ(owners.count({t.name, p}), wanted ? 1u : 0u) << t.name << "/" << p;
    }
}

int moved(const Assignment &before, const Assignment &after)
{
    std::map<std::pair<std::string, int>, size_t> was;
    for (size_t m = 0; m < before.size(); m++)
        for (auto &tp : before[m])
            was[tp] = m;
    int n = 0;
    for (size_t m = 0; m < after.size(); m++)
        for (auto &tp : after[m])
            if (was.count(tp) && was[tp] != m)
                n++;
    return n;
}

Group homogeneous(int members, int partitions)
{
    Group g;
    g.topics = {{"t", partitions}};
    g.subs.assign(members, {"t"});
    return g;
}

} // namespace

TEST(Assignors, EachAssignsEveryPartitionOnceAndBalanced)
{
    for (const char *name : {"sticky", "range", "roundrobin", ""}) {
        SCOPED_TRACE(name);
        Group g = homogeneous(3, 12);
        Assignment a = g.run(name, {});
        check_cover(g, a);
        for (auto &m : a)
            EXPECT_EQ(m.size(), 4u);
    }
}

TEST(Assignors, StickyThreeToFourOnTwelveMovesExactlyThree)
{
    Group g = homogeneous(3, 12);
    Assignment a3 = g.run("sticky", {});
    g.subs.push_back({"t"});
    Assignment a4 = g.run("sticky", a3);
    check_cover(g, a4);
    EXPECT_EQ(moved(a3, a4), 3);
    for (auto &m : a4)
        EXPECT_EQ(m.size(), 3u);
    // The old members keep three of their own each.
    for (size_t m = 0; m < 3; m++)
        for (auto &tp : a4[m])
            EXPECT_NE(std::find(a3[m].begin(), a3[m].end(), tp), a3[m].end());
}

TEST(Assignors, StickyMemberLeavingMovesOnlyItsPartitions)
{
    Group g = homogeneous(4, 12);
    Assignment a4 = g.run("sticky", {});
    // Member 1 leaves.
    Group g3 = homogeneous(3, 12);
    Assignment prev = {a4[0], a4[2], a4[3]};
    Assignment a3 = g3.run("sticky", prev);
    check_cover(g3, a3);
    EXPECT_EQ(moved(prev, a3), 0);
    for (auto &m : a3)
        EXPECT_EQ(m.size(), 4u);
}

TEST(Assignors, StickyRandomChurnStaysBalancedAndMinimal)
{
    std::mt19937 rng(42);
    Group g = homogeneous(1, 30);
    Assignment cur = g.run("sticky", {});
    for (int round = 0; round < 200; round++) {
        size_t n = g.subs.size();
        Assignment prev = cur;
        if (n > 1 && rng() % 2) {
            size_t gone = rng() % n;
            g.subs.erase(g.subs.begin() + (long)gone);
            prev.erase(prev.begin() + (long)gone);
        } else if (n < 12) {
            g.subs.push_back({"t"});
            prev.push_back({});
        }
        cur = g.run("sticky", prev);
        check_cover(g, cur);
        size_t lo = 30 / g.subs.size(), hi = lo + (30 % g.subs.size() ? 1 : 0);
        int must_move = 0; // partitions over the new quota must move, nothing else
        for (auto &m : prev)
            must_move += m.size() > hi ? (int)(m.size() - hi) : 0;
        for (auto &m : cur) {
            EXPECT_GE(m.size(), lo);
            EXPECT_LE(m.size(), hi);
        }
        EXPECT_LE(moved(prev, cur), must_move + (int)g.subs.size()) << "round " << round;
    }
}

TEST(Assignors, RangeGivesContiguousRanges)
{
    Group g = homogeneous(3, 8);
    Assignment a = g.run("range", {});
    check_cover(g, a);
    std::vector<std::vector<int>> want = {{0, 1, 2}, {3, 4, 5}, {6, 7}};
    for (size_t m = 0; m < 3; m++) {
        std::vector<int> got;
        for (auto &tp : a[m])
            got.push_back(tp.second);
        EXPECT_EQ(got, want[m]);
    }
}

TEST(Assignors, RoundRobinDealsAcrossTopics)
{
    Group g;
    g.topics = {{"a", 3}, {"b", 3}};
    g.subs = {{"a", "b"}, {"a", "b"}};
    Assignment a = g.run("roundrobin", {});
    check_cover(g, a);
    Assignment want = {{{"a", 0}, {"a", 2}, {"b", 1}}, {{"a", 1}, {"b", 0}, {"b", 2}}};
    EXPECT_EQ(a, want);
}

TEST(Assignors, UnevenSubscriptionsRespectEligibility)
{
    for (const char *name : {"sticky", "range", "roundrobin"}) {
        SCOPED_TRACE(name);
        Group g;
        g.topics = {{"x", 4}, {"y", 4}, {"z", 2}};
        g.subs = {{"x"}, {"x", "y"}, {"y", "nope"}};
        Assignment a = g.run(name, {});
        check_cover(g, a);
    }
    // Sticky balances what it can: x and y (8 partitions) over 3 members.
    Group g;
    g.topics = {{"x", 4}, {"y", 4}};
    g.subs = {{"x"}, {"x", "y"}, {"y"}};
    Assignment a = g.run("sticky", {});
    check_cover(g, a);
    for (auto &m : a) {
        EXPECT_GE(m.size(), 2u);
        EXPECT_LE(m.size(), 3u);
    }
}

TEST(Assignors, StickyIgnoresVanishedPartitionsAndUnknownNames)
{
    Group g = homogeneous(2, 4);
    Assignment prev = {{{"t", 0}, {"t", 9}, {"gone", 0}}, {{"t", 1}}};
    Assignment a = g.run("sticky", prev);
    check_cover(g, a);
    mq_err_t err;
    g.run("fancy", {}, &err);
    EXPECT_EQ(err, MQ_ERR_UNSUPPORTED_ASSIGNOR);
    EXPECT_TRUE(assignor_known(""));
    EXPECT_TRUE(assignor_known("range"));
    EXPECT_FALSE(assignor_known("RANGE"));
}

TEST(Assignors, NoMembersOrNoTopics)
{
    Group g;
    g.topics = {{"t", 3}};
    EXPECT_TRUE(g.run("sticky", {}).empty());
    Group h;
    h.subs = {{"t"}};
    Assignment a = h.run("sticky", {});
    ASSERT_EQ(a.size(), 1u);
    EXPECT_TRUE(a[0].empty());
}
