// The consumer-group coordinator's state machine (groups.c), driven the way
// group_rpc.c drives it, with simulated members and an explicit clock.
#include <gtest/gtest.h>

#include <cjson/cJSON.h>

#include <map>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "groups.h"
#include "topics.h"
}

namespace
{

using TP = std::pair<std::string, int>;

struct Member {
    std::string id;
    int32_t epoch = 0;
    std::set<TP> owned;
};

group_tp_list_t to_list(const std::set<TP> &s)
{
    group_tp_list_t l = {};
    for (auto &tp : s)
        group_tp_list_add(&l, tp.first.c_str(), tp.second);
    return l;
}

std::set<TP> to_set(const group_tp_list_t &l)
{
    std::set<TP> s;
    for (size_t i = 0; i < l.n; i++)
        s.insert({l.v[i].topic, l.v[i].partition});
    return s;
}

struct Groups : ::testing::Test {
    int64_t now = 1000000;
    std::vector<std::string> topics;

    void SetUp() override
    {
        groups_limits_t lim = {100, 60000, 3000};
        groups_init(&lim);
        groups_reset();
        add_topic("t", 12);
    }
    void TearDown() override
    {
        groups_reset();
        for (auto &n : topics)
            topic_release(topics_unpublish(n.c_str()));
    }
    void add_topic(const char *name, int parts)
    {
        log_config_t lc = {};
        lc.segment_bytes = 1 << 20;
        lc.retention_ms = -1;
        lc.retention_bytes = -1;
        lc.max_message_bytes = 1 << 20;
        ASSERT_EQ(topics_publish(topic_new(name, parts, &lc, "{}", 1)), MQ_OK);
        topics.push_back(name);
    }

    mq_err_t join(Member &m, const char *instance = "", int32_t session = 1000,
                  std::vector<const char *> subs = {"t"}, const char *regex = "",
                  const char *assignor = "", int32_t rebalance = 5000, const char *group = "g")
    {
        group_join_req_t r = {};
        r.group_id = group;
        r.member_id = m.id.c_str();
        r.instance_id = instance;
        r.topics = subs.data();
        r.n_topics = subs.size();
        r.topic_regex = regex;
        r.session_timeout_ms = session;
        r.rebalance_timeout_ms = rebalance;
        r.assignor = assignor;
        group_answer_t a;
        mq_err_t err = groups_join(&r, now, &a);
        if (err == MQ_OK) {
            m.id = a.member_id;
            m.epoch = a.member_epoch;
            m.owned = to_set(a.assignment);
            EXPECT_EQ(a.revoke.n, 0u);
            group_answer_free(&a);
        }
        return err;
    }

    // One heartbeat; the member applies the answer as a client would: drops
    // what it must revoke, takes what it is given. Returns "answer now".
    int heartbeat(Member &m, mq_err_t *err_out = nullptr, std::set<TP> *revoked = nullptr)
    {
        group_tp_list_t owned = to_list(m.owned);
        group_answer_t a;
        int changed = 0;
        mq_err_t err = groups_heartbeat("g", m.id.c_str(), m.epoch, &owned, now, &a, &changed);
        group_tp_list_free(&owned);
        if (err_out)
            *err_out = err;
        if (err != MQ_OK)
            return 1;
        m.epoch = a.member_epoch;
        if (revoked)
            *revoked = to_set(a.revoke);
        m.owned = to_set(a.assignment);
        group_answer_free(&a);
        return changed;
    }

    // Heartbeats everyone until nobody's answer changes.
    void settle(std::vector<Member *> ms)
    {
        for (int round = 0; round < 20; round++) {
            int any = 0;
            for (auto m : ms)
                any |= heartbeat(*m);
            if (!any)
                return;
        }
        FAIL() << "group did not settle";
    }
};

std::map<TP, std::string> owners(std::vector<Member *> ms)
{
    std::map<TP, std::string> o;
    for (auto m : ms)
        for (auto &tp : m->owned) {
            EXPECT_EQ(o.count(tp), 0u) << tp.first << "/" << tp.second << " owned twice";
            o[tp] = m->id;
        }
    return o;
}

} // namespace

TEST_F(Groups, ThreeMembersOwnEachPartitionOnce)
{
    Member a, b, c;
    ASSERT_EQ(join(a), MQ_OK);
    EXPECT_EQ(a.owned.size(), 12u);
    EXPECT_GE(a.epoch, 1);
    ASSERT_EQ(join(b), MQ_OK);
    EXPECT_TRUE(b.owned.empty()) << "a still owns everything: b must wait";
    ASSERT_EQ(join(c), MQ_OK);
    settle({&a, &b, &c});
    auto o = owners({&a, &b, &c});
    EXPECT_EQ(o.size(), 12u);
    EXPECT_EQ(a.owned.size(), 4u);
    EXPECT_EQ(b.owned.size(), 4u);
    EXPECT_EQ(c.owned.size(), 4u);
    cJSON *d = groups_describe("g");
    ASSERT_NE(d, nullptr);
    EXPECT_STREQ(cJSON_GetObjectItem(d, "state")->valuestring, "stable");
    cJSON_Delete(d);
}

TEST_F(Groups, FourthMemberMovesExactlyThreeAndOthersKeepConsuming)
{
    Member a, b, c, d;
    join(a);
    join(b);
    join(c);
    settle({&a, &b, &c});
    auto before = owners({&a, &b, &c});
    ASSERT_EQ(join(d), MQ_OK);
    EXPECT_TRUE(d.owned.empty());
    // Through the whole reconciliation no member ever loses a partition it
    // keeps in the end, and nobody owns a partition twice.
    std::vector<Member *> all = {&a, &b, &c, &d};
    std::map<std::string, std::set<TP>> seen_lost;
    for (int round = 0; round < 20; round++) {
        int any = 0;
        for (auto m : all) {
            std::set<TP> had = m->owned;
            any |= heartbeat(*m);
            for (auto &tp : had)
                if (!m->owned.count(tp))
                    seen_lost[m->id].insert(tp);
            owners(all);
        }
        if (!any)
            break;
    }
    auto after = owners(all);
    EXPECT_EQ(after.size(), 12u);
    int moved = 0;
    for (auto &kv : before)
        moved += after[kv.first] != kv.second;
    EXPECT_EQ(moved, 3);
    for (auto m : all)
        EXPECT_EQ(m->owned.size(), 3u);
    // Each old member gave up exactly one partition, and only that one.
    for (auto m : {&a, &b, &c})
        EXPECT_EQ(seen_lost[m->id].size(), 1u);
}

TEST_F(Groups, RevokeBeforeAssign)
{
    Member a, b;
    join(a);
    join(b);
    // a has not confirmed: b gets nothing however often it asks.
    for (int i = 0; i < 3; i++) {
        EXPECT_EQ(heartbeat(b), 0);
        EXPECT_TRUE(b.owned.empty());
    }
    std::set<TP> revoked;
    EXPECT_EQ(heartbeat(a, nullptr, &revoked), 1);
    EXPECT_EQ(revoked.size(), 6u);
    // a's answer was applied (revoked dropped); its next heartbeat confirms.
    uint64_t v = groups_version();
    heartbeat(a);
    EXPECT_GT(groups_version(), v) << "freed partitions must wake held heartbeats";
    EXPECT_EQ(heartbeat(b), 1);
    EXPECT_EQ(b.owned, revoked);
}

TEST_F(Groups, SessionExpiryReassigns)
{
    Member a, b;
    join(a, "", 500);
    join(b, "", 500);
    settle({&a, &b});
    now += 400;
    heartbeat(a);
    EXPECT_GT(groups_tick(now), 0);
    EXPECT_EQ(groups_member_count("g"), 2);
    now += 200; // b silent for 600 ms
    groups_tick(now);
    EXPECT_EQ(groups_member_count("g"), 1);
    EXPECT_EQ(heartbeat(a), 1);
    EXPECT_EQ(a.owned.size(), 12u);
    mq_err_t err;
    heartbeat(b, &err);
    EXPECT_EQ(err, MQ_ERR_UNKNOWN_MEMBER);
}

TEST_F(Groups, HeldHeartbeatKeepsMemberAlive)
{
    Member a;
    join(a, "", 500);
    groups_hold("g", a.id.c_str(), +1, now);
    now += 5000;
    groups_tick(now);
    EXPECT_EQ(groups_member_count("g"), 1);
    groups_hold("g", a.id.c_str(), -1, now);
    now += 499;
    groups_tick(now);
    EXPECT_EQ(groups_member_count("g"), 1);
    now += 2;
    groups_tick(now);
    EXPECT_EQ(groups_member_count("g"), 0);
}

TEST_F(Groups, MemberThatDoesNotRevokeWithinRebalanceTimeoutIsRemoved)
{
    Member a, b;
    join(a, "", 60000, {"t"}, "", "", 300);
    join(b, "", 60000, {"t"}, "", "", 300);
    std::set<TP> revoked;
    heartbeat(a, nullptr, &revoked); // told to revoke; never confirms
    ASSERT_FALSE(revoked.empty());
    groups_hold("g", a.id.c_str(), +1, now); // still heartbeating
    now += 301;
    groups_tick(now);
    EXPECT_EQ(groups_member_count("g"), 1);
    heartbeat(b);
    EXPECT_EQ(b.owned.size(), 12u);
}

TEST_F(Groups, FencingOfFetchesAndCommits)
{
    Member a, b;
    join(a);
    int32_t e1 = a.epoch;
    EXPECT_EQ(groups_check_partition("g", a.id.c_str(), e1, "t", 0), MQ_OK);
    EXPECT_EQ(groups_check_partition("g", a.id.c_str(), e1 + 1, "t", 0),
              MQ_ERR_FENCED_MEMBER_EPOCH);
    EXPECT_EQ(groups_check_partition("g", "nobody", e1, "t", 0), MQ_ERR_UNKNOWN_MEMBER);
    EXPECT_EQ(groups_check_partition("nogroup", a.id.c_str(), e1, "t", 0), MQ_ERR_UNKNOWN_MEMBER);
    EXPECT_EQ(groups_check_partition("g", "", -1, "t", 0), MQ_OK) << "manual assignment";
    join(b);
    settle({&a, &b});
    // a kept half; for the half that moved to b, a's old epoch is stale.
    TP gone = *b.owned.begin(), kept = *a.owned.begin();
    EXPECT_EQ(groups_check_partition("g", a.id.c_str(), e1, gone.first.c_str(), gone.second),
              MQ_ERR_STALE_MEMBER_EPOCH);
    EXPECT_EQ(groups_check_partition("g", a.id.c_str(), e1, kept.first.c_str(), kept.second),
              MQ_OK);
    // b got its partitions at a later epoch than a's first one.
    EXPECT_EQ(groups_check_partition("g", b.id.c_str(), b.epoch, gone.first.c_str(), gone.second),
              MQ_OK);
    char msg[256];
    EXPECT_EQ(groups_check_committer("g", "", -1, msg, sizeof(msg)), MQ_ERR_UNKNOWN_MEMBER);
    EXPECT_EQ(groups_check_committer("g", a.id.c_str(), a.epoch, msg, sizeof(msg)), MQ_OK);
    EXPECT_EQ(groups_check_committer("g", a.id.c_str(), a.epoch + 5, msg, sizeof(msg)),
              MQ_ERR_FENCED_MEMBER_EPOCH);
    EXPECT_EQ(groups_leave("g", a.id.c_str(), a.epoch, now), MQ_OK);
    EXPECT_EQ(groups_check_committer("g", a.id.c_str(), a.epoch, msg, sizeof(msg)),
              MQ_ERR_UNKNOWN_MEMBER);
    EXPECT_EQ(groups_leave("g", b.id.c_str(), b.epoch, now), MQ_OK);
    EXPECT_EQ(groups_check_committer("g", "", -1, msg, sizeof(msg)), MQ_OK) << "empty group";
}

TEST_F(Groups, StaticMemberTakesBackItsPartitionsWithoutRebalance)
{
    Member a, b;
    join(a, "inst-a", 1000);
    join(b, "inst-b", 1000);
    settle({&a, &b});
    std::set<TP> a_had = a.owned;
    cJSON *d = groups_describe("g");
    int epoch = cJSON_GetObjectItem(d, "group_epoch")->valueint;
    cJSON_Delete(d);
    // a restarts: leaves (temporarily), then joins again with its instance id.
    EXPECT_EQ(groups_leave("g", a.id.c_str(), a.epoch, now), MQ_OK);
    now += 500;
    groups_tick(now);
    heartbeat(b);
    EXPECT_EQ(b.owned.size(), 6u) << "a's partitions stay reserved";
    Member a2;
    ASSERT_EQ(join(a2, "inst-a", 1000), MQ_OK);
    EXPECT_NE(a2.id, a.id);
    EXPECT_EQ(a2.owned, a_had);
    d = groups_describe("g");
    EXPECT_EQ(cJSON_GetObjectItem(d, "group_epoch")->valueint, epoch) << "no rebalance";
    cJSON_Delete(d);
    mq_err_t err;
    heartbeat(a, &err);
    EXPECT_EQ(err, MQ_ERR_UNKNOWN_MEMBER) << "the old instance is fenced";
    // Without a return within the session timeout, the partitions move.
    EXPECT_EQ(groups_leave("g", a2.id.c_str(), a2.epoch, now), MQ_OK);
    now += 1001;
    heartbeat(b);
    groups_tick(now);
    EXPECT_EQ(groups_member_count("g"), 1);
    heartbeat(b);
    EXPECT_EQ(b.owned.size(), 12u);
}

TEST_F(Groups, ReplacedStaticMemberIsNotKeptAliveByTheOldProcess)
{
    Member a;
    join(a, "inst-a", 500);
    groups_hold("g", a.id.c_str(), +1, now); // the old process has a heartbeat held
    Member a2;
    uint64_t v = groups_version();
    ASSERT_EQ(join(a2, "inst-a", 500), MQ_OK);
    EXPECT_GT(groups_version(), v) << "the old held heartbeat must be woken";
    groups_hold("g", a.id.c_str(), -1, now); // answered: unknown id, ignored
    now += 501;
    groups_tick(now);
    EXPECT_EQ(groups_member_count("g"), 0) << "a2 never heartbeat: its session ends";
}

TEST_F(Groups, JoinValidation)
{
    Member m;
    EXPECT_EQ(join(m, "", 50), MQ_ERR_INVALID_SESSION_TIMEOUT);
    EXPECT_EQ(join(m, "", 60001), MQ_ERR_INVALID_SESSION_TIMEOUT);
    EXPECT_EQ(join(m, "", 1000, {}), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(join(m, "", 1000, {"bad topic"}), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(join(m, "", 1000, {}, "(unclosed"), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(join(m, "", 1000, {"t"}, "", "fancy"), MQ_ERR_UNSUPPORTED_ASSIGNOR);
    EXPECT_EQ(join(m, "", 1000, {"t"}, "", "", 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(join(m, "", 1000, {"t"}, "", "", 5000, ""), MQ_ERR_INVALID_GROUP_ID);
    EXPECT_EQ(join(m, "", 1000, {"t"}, "", "", 5000, "a/b"), MQ_ERR_INVALID_GROUP_ID);
    char **ids;
    size_t n = groups_list(&ids);
    EXPECT_EQ(n, 0u) << "failed joins create no group";
    free(ids);
    m.id = "made-up";
    EXPECT_EQ(join(m), MQ_ERR_UNKNOWN_MEMBER);
}

TEST_F(Groups, RegexSubscriptionPicksUpNewTopics)
{
    Member a;
    ASSERT_EQ(join(a, "", 1000, {}, "o.*"), MQ_OK);
    EXPECT_TRUE(a.owned.empty()) << "'t' does not match o.* as a whole name";
    add_topic("orders", 3);
    add_topic("xorders", 3);
    groups_tick(now);
    EXPECT_EQ(heartbeat(a), 1);
    EXPECT_EQ(a.owned, (std::set<TP>{{"orders", 0}, {"orders", 1}, {"orders", 2}}));
}

TEST_F(Groups, SubscriptionToMissingTopicIsAssignedOnceCreated)
{
    Member a;
    ASSERT_EQ(join(a, "", 1000, {"later"}), MQ_OK);
    EXPECT_TRUE(a.owned.empty());
    add_topic("later", 2);
    groups_tick(now);
    heartbeat(a);
    EXPECT_EQ(a.owned.size(), 2u);
}

TEST_F(Groups, StateSurvivesPersistAndRestore)
{
    Member a, b;
    join(a);
    join(b);
    settle({&a, &b});
    ASSERT_EQ(groups_set_offset("g", "t", 3, 42, "meta", 777), MQ_OK);
    group_blob_t *blobs;
    size_t n = groups_take_dirty(&blobs);
    ASSERT_EQ(n, 1u);
    std::string json = blobs[0].json;
    group_blobs_free(blobs, n);
    EXPECT_EQ(groups_take_dirty(&blobs), 0u) << "nothing changed since";
    group_blobs_free(blobs, 0);
    groups_reset();
    ASSERT_EQ(groups_restore("g", json.c_str(), now), MQ_OK);
    EXPECT_EQ(groups_member_count("g"), 2);
    // Members carry on with their ids, epochs and partitions.
    EXPECT_EQ(heartbeat(a), 0);
    EXPECT_EQ(heartbeat(b), 0);
    EXPECT_EQ(a.owned.size(), 6u);
    EXPECT_EQ(groups_check_partition("g", a.id.c_str(), a.epoch, a.owned.begin()->first.c_str(),
                                     a.owned.begin()->second),
              MQ_OK);
    // Each gets a fresh session after the restart.
    now += 1001;
    groups_tick(now);
    EXPECT_EQ(groups_member_count("g"), 0);
}

TEST_F(Groups, OffsetsAndDelete)
{
    group_offset_t o;
    EXPECT_EQ(groups_get_offset("g", "t", 0, &o), MQ_ERR_NOT_FOUND);
    ASSERT_EQ(groups_set_offset("g", "t", 1, 10, "", 1), MQ_OK);
    ASSERT_EQ(groups_set_offset("g", "t", 0, 5, "m", 2), MQ_OK);
    ASSERT_EQ(groups_set_offset("g", "t", 1, 11, "x", 3), MQ_OK);
    ASSERT_EQ(groups_get_offset("g", "t", 1, &o), MQ_OK);
    EXPECT_EQ(o.offset, 11);
    EXPECT_STREQ(o.metadata, "x");
    group_offset_free(&o);
    group_offset_t *all;
    size_t n;
    ASSERT_EQ(groups_list_offsets("g", &all, &n), MQ_OK);
    ASSERT_EQ(n, 2u);
    EXPECT_EQ(all[0].partition, 0);
    EXPECT_EQ(all[1].partition, 1);
    group_offsets_free(all, n);
    Member a;
    join(a);
    EXPECT_EQ(groups_delete("g"), MQ_ERR_GROUP_NOT_EMPTY);
    groups_leave("g", a.id.c_str(), a.epoch, now);
    EXPECT_EQ(groups_delete("g"), MQ_OK);
    EXPECT_EQ(groups_delete("g"), MQ_ERR_NOT_FOUND);
    EXPECT_EQ(groups_get_offset("g", "t", 1, &o), MQ_ERR_NOT_FOUND);
    group_blob_t *blobs;
    n = groups_take_dirty(&blobs);
    ASSERT_EQ(n, 1u);
    EXPECT_STREQ(blobs[0].group_id, "g");
    EXPECT_EQ(blobs[0].json, nullptr) << "a deleted group's row goes";
    group_blobs_free(blobs, n);
}
