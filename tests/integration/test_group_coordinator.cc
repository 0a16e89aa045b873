// The consumer-group coordinator of a real mqbroker, driven over gRPC by the
// raw client (no libmqclient): join, long-polled heartbeats, cooperative
// rebalances, session expiry, fencing of commits and fetches, offsets and
// groups surviving a restart, and the admin REST endpoints for groups.
#include <cjson/cJSON.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "mq/v1/broker.pb-c.h"
#include "mqclient.h"
#include "rawclient_group.h"

namespace
{

using TP = std::pair<std::string, int>;
using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point t0)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

std::set<TP> tp_set(Mq__V1__TopicPartitions **v, size_t n)
{
    std::set<TP> s;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < v[i]->n_partitions; j++)
            s.insert({v[i]->topic, v[i]->partitions[j]});
    return s;
}

// Owned partitions as protobuf-c messages (kept alive with the object).
struct TPMsgs {
    std::vector<std::string> topics;
    std::vector<std::vector<int32_t>> parts;
    std::vector<Mq__V1__TopicPartitions> msgs;
    std::vector<Mq__V1__TopicPartitions *> ptrs;
    explicit TPMsgs(const std::set<TP> &s)
    {
        for (auto &tp : s) {
            if (topics.empty() || topics.back() != tp.first) {
                topics.push_back(tp.first);
                parts.emplace_back();
            }
            parts.back().push_back(tp.second);
        }
        msgs.resize(topics.size());
        for (size_t i = 0; i < topics.size(); i++) {
            mq__v1__topic_partitions__init(&msgs[i]);
            msgs[i].topic = (char *)topics[i].c_str();
            msgs[i].partitions = parts[i].data();
            msgs[i].n_partitions = parts[i].size();
            ptrs.push_back(&msgs[i]);
        }
    }
};

// One group member speaking the protocol as a client would.
struct Member {
    rawclient_t *rc = nullptr;
    std::string group = "g";
    std::string id;
    int32_t epoch = 0;
    std::set<TP> owned;
    int32_t last_error = 0;
    int32_t hb_interval = 0;

    int32_t Join(const std::string &topic, int32_t session_ms, const char *instance = "",
                 const char *regex = "")
    {
        Mq__V1__JoinGroupRequest req = MQ__V1__JOIN_GROUP_REQUEST__INIT;
        char *topics[1] = {(char *)topic.c_str()};
        req.group_id = (char *)group.c_str();
        req.member_id = (char *)id.c_str();
        req.group_instance_id = (char *)instance;
        req.topics = topics;
        req.n_topics = *regex ? 0 : 1;
        req.topic_regex = (char *)regex;
        req.session_timeout_ms = session_ms;
        req.rebalance_timeout_ms = 10000;
        req.assignor = (char *)"";
        int st;
        char err[512];
        auto *r = (Mq__V1__JoinGroupResponse *)rc_call_pb(rc, RC_PATH_JOIN_GROUP, &req.base,
                                                          &mq__v1__join_group_response__descriptor,
                                                          10000, &st, err, sizeof err);
        EXPECT_NE(r, nullptr) << "JoinGroup: status " << st << " " << err;
        if (!r)
            return -1;
        last_error = r->error_code;
        if (r->error_code == 0) {
            id = r->member_id;
            epoch = r->member_epoch;
            hb_interval = r->heartbeat_interval_ms;
            owned = tp_set(r->assignment, r->n_assignment);
        }
        protobuf_c_message_free_unpacked(&r->base, nullptr);
        return last_error;
    }

    void FillHeartbeat(Mq__V1__HeartbeatRequest *req, TPMsgs &m, int32_t wait_ms)
    {
        mq__v1__heartbeat_request__init(req);
        req->group_id = (char *)group.c_str();
        req->member_id = (char *)id.c_str();
        req->member_epoch = epoch;
        req->owned = m.ptrs.data();
        req->n_owned = m.ptrs.size();
        req->max_wait_ms = wait_ms;
    }

    // Applies an answer: drops what is revoked, takes what is given.
    // Returns true if what the member owns changed.
    bool Apply(Mq__V1__HeartbeatResponse *r, std::set<TP> *revoked = nullptr)
    {
        last_error = r->error_code;
        if (r->error_code != 0)
            return false;
        epoch = r->member_epoch;
        auto now = tp_set(r->assignment, r->n_assignment);
        if (revoked)
            *revoked = tp_set(r->revoke, r->n_revoke);
        bool changed = now != owned;
        owned = now;
        return changed;
    }

    bool Heartbeat(int32_t wait_ms = 0, std::set<TP> *revoked = nullptr)
    {
        TPMsgs m(owned);
        Mq__V1__HeartbeatRequest req;
        FillHeartbeat(&req, m, wait_ms);
        int st;
        char err[512];
        auto *r = (Mq__V1__HeartbeatResponse *)rc_call_pb(rc, RC_PATH_HEARTBEAT, &req.base,
                                                          &mq__v1__heartbeat_response__descriptor,
                                                          wait_ms + 10000, &st, err, sizeof err);
        EXPECT_NE(r, nullptr) << "Heartbeat: status " << st << " " << err;
        if (!r)
            return false;
        bool changed = Apply(r, revoked);
        protobuf_c_message_free_unpacked(&r->base, nullptr);
        return changed;
    }

    // CommitOffsets of one partition; returns {top-level code, partition code}.
    std::pair<int32_t, int32_t> Commit(const TP &tp, int64_t offset, int32_t at_epoch,
                                       const char *member = nullptr)
    {
        Mq__V1__CommitOffsetPartition p = MQ__V1__COMMIT_OFFSET_PARTITION__INIT;
        p.topic = (char *)tp.first.c_str();
        p.partition = tp.second;
        p.offset = offset;
        p.metadata = (char *)"m";
        Mq__V1__CommitOffsetPartition *ps[1] = {&p};
        Mq__V1__CommitOffsetsRequest req = MQ__V1__COMMIT_OFFSETS_REQUEST__INIT;
        req.group_id = (char *)group.c_str();
        req.member_id = (char *)(member ? member : id.c_str());
        req.member_epoch = at_epoch;
        req.partitions = ps;
        req.n_partitions = 1;
        int st;
        char err[512];
        auto *r = (Mq__V1__CommitOffsetsResponse *)rc_call_pb(
            rc, RC_PATH_COMMIT_OFFSETS, &req.base, &mq__v1__commit_offsets_response__descriptor,
            10000, &st, err, sizeof err);
        EXPECT_NE(r, nullptr) << "CommitOffsets: status " << st << " " << err;
        if (!r)
            return {-1, -1};
        EXPECT_EQ(r->n_results, 1u);
        std::pair<int32_t, int32_t> out = {r->error_code,
                                           r->n_results ? r->results[0]->error_code : -1};
        protobuf_c_message_free_unpacked(&r->base, nullptr);
        return out;
    }

    // Fetch of one partition with the member fields; returns its error code.
    int32_t Fetch(const TP &tp, int32_t at_epoch)
    {
        Mq__V1__FetchPartition p = MQ__V1__FETCH_PARTITION__INIT;
        p.topic = (char *)tp.first.c_str();
        p.partition = tp.second;
        Mq__V1__FetchPartition *ps[1] = {&p};
        Mq__V1__FetchRequest req = MQ__V1__FETCH_REQUEST__INIT;
        req.partitions = ps;
        req.n_partitions = 1;
        req.group_id = (char *)group.c_str();
        req.member_id = (char *)id.c_str();
        req.member_epoch = at_epoch;
        int st;
        char err[512];
        auto *r = (Mq__V1__FetchResponse *)rc_call_pb(rc, RC_PATH_FETCH, &req.base,
                                                      &mq__v1__fetch_response__descriptor, 10000,
                                                      &st, err, sizeof err);
        EXPECT_NE(r, nullptr) << "Fetch: status " << st << " " << err;
        if (!r)
            return -1;
        int32_t code = r->n_partitions ? r->partitions[0]->error_code : -1;
        protobuf_c_message_free_unpacked(&r->base, nullptr);
        return code;
    }
};

std::map<int, std::string> Owners(const std::vector<Member *> &ms)
{
    std::map<int, std::string> o;
    for (auto m : ms)
        for (auto &tp : m->owned) {
            EXPECT_EQ(o.count(tp.second), 0u) << "partition " << tp.second << " owned twice";
            o[tp.second] = m->id;
        }
    return o;
}

class GroupCoordinator : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(StartBroker(
            {"--group.min.session.timeout.ms=100", "--group.heartbeat.interval.ms=5000"}));
        ASSERT_NO_FATAL_FAILURE(CreateTopic("t", 12));
    }
    Member NewMember()
    {
        Member m;
        m.rc = Connect();
        return m;
    }
    // Everyone heartbeats (without waiting) until no answer changes.
    void Settle(const std::vector<Member *> &ms)
    {
        for (int round = 0; round < 20; round++) {
            bool any = false;
            for (auto m : ms)
                any |= m->Heartbeat(0);
            if (!any)
                return;
        }
        FAIL() << "the group did not settle";
    }
};

} // namespace

TEST_F(GroupCoordinator, ThreeMembersEachPartitionOwnedOnce)
{
    Member a = NewMember(), b = NewMember(), c = NewMember();
    ASSERT_EQ(a.Join("t", 10000), 0);
    EXPECT_EQ(a.owned.size(), 12u);
    EXPECT_EQ(a.hb_interval, 5000);
    ASSERT_EQ(b.Join("t", 10000), 0);
    ASSERT_EQ(c.Join("t", 10000), 0);
    Settle({&a, &b, &c});
    auto o = Owners({&a, &b, &c});
    EXPECT_EQ(o.size(), 12u);
    for (auto m : {&a, &b, &c})
        EXPECT_EQ(m->owned.size(), 4u);
}

TEST_F(GroupCoordinator, HeldHeartbeatAnswersAtOnceWhenAssignmentChanges)
{
    Member a = NewMember(), b = NewMember();
    ASSERT_EQ(a.Join("t", 10000), 0);
    // a's heartbeat owns exactly its assignment: the broker holds it.
    TPMsgs m(a.owned);
    Mq__V1__HeartbeatRequest req;
    a.FillHeartbeat(&req, m, 5000);
    int32_t sid = rc_submit_pb(a.rc, RC_PATH_HEARTBEAT, &req.base);
    ASSERT_GT(sid, 0);
    rc_result_t r;
    EXPECT_EQ(rc_wait(a.rc, sid, 300, &r), 0) << "an unchanged heartbeat must be held";
    rc_result_free(&r);
    sid = rc_submit_pb(a.rc, RC_PATH_HEARTBEAT, &req.base);
    rc_pump(a.rc, 50);
    auto t0 = Clock::now();
    ASSERT_EQ(b.Join("t", 10000), 0);
    ASSERT_EQ(rc_wait(a.rc, sid, 4000, &r), 1);
    int64_t took = ms_since(t0);
    int st;
    auto *hr = (Mq__V1__HeartbeatResponse *)rc_result_pb(
        &r, &mq__v1__heartbeat_response__descriptor, &st, nullptr, 0);
    rc_result_free(&r);
    ASSERT_NE(hr, nullptr);
    std::set<TP> revoked;
    a.Apply(hr, &revoked);
    protobuf_c_message_free_unpacked(&hr->base, nullptr);
    EXPECT_LT(took, 1000) << "the held heartbeat waited for its interval";
    EXPECT_EQ(revoked.size(), 6u);
    EXPECT_EQ(a.owned.size(), 6u);
    // b's heartbeat is held too, until a confirms: then it answers at once.
    Member *bp = &b;
    TPMsgs none(b.owned);
    Mq__V1__HeartbeatRequest breq;
    bp->FillHeartbeat(&breq, none, 5000);
    int32_t bsid = rc_submit_pb(b.rc, RC_PATH_HEARTBEAT, &breq.base);
    rc_pump(b.rc, 100);
    t0 = Clock::now();
    a.Heartbeat(0); // confirms the revocation
    ASSERT_EQ(rc_wait(b.rc, bsid, 4000, &r), 1);
    EXPECT_LT(ms_since(t0), 1000);
    hr = (Mq__V1__HeartbeatResponse *)rc_result_pb(&r, &mq__v1__heartbeat_response__descriptor, &st,
                                                   nullptr, 0);
    rc_result_free(&r);
    ASSERT_NE(hr, nullptr);
    b.Apply(hr);
    protobuf_c_message_free_unpacked(&hr->base, nullptr);
    EXPECT_EQ(b.owned, revoked);
}

TEST_F(GroupCoordinator, FourthMemberMovesExactlyThree)
{
    Member a = NewMember(), b = NewMember(), c = NewMember(), d = NewMember();
    a.Join("t", 10000);
    b.Join("t", 10000);
    c.Join("t", 10000);
    Settle({&a, &b, &c});
    auto before = Owners({&a, &b, &c});
    auto t0 = Clock::now();
    ASSERT_EQ(d.Join("t", 10000), 0);
    Settle({&a, &b, &c, &d});
    int64_t took = ms_since(t0);
    auto after = Owners({&a, &b, &c, &d});
    ASSERT_EQ(after.size(), 12u);
    int moved = 0;
    for (auto &kv : before)
        moved += after[kv.first] != kv.second;
    EXPECT_EQ(moved, 3);
    for (auto m : {&a, &b, &c, &d})
        EXPECT_EQ(m->owned.size(), 3u);
    RecordProperty("rebalance_ms", (int)took);
    EXPECT_LT(took, 1000);
}

TEST_F(GroupCoordinator, SessionExpiryReassigns)
{
    Member a = NewMember(), b = NewMember();
    a.Join("t", 10000);
    b.Join("t", 300);
    Settle({&a, &b});
    ASSERT_EQ(b.owned.size(), 6u);
    // b goes silent; a waits in a held heartbeat and gets b's partitions.
    auto t0 = Clock::now();
    for (int i = 0; i < 10 && a.owned.size() < 12; i++)
        a.Heartbeat(2000);
    EXPECT_EQ(a.owned.size(), 12u);
    EXPECT_LT(ms_since(t0), 3000);
    b.Heartbeat(0);
    EXPECT_EQ(b.last_error, -MQ_ERR_UNKNOWN_MEMBER);
    // It joins again as a new member and gets half back.
    b.id.clear();
    ASSERT_EQ(b.Join("t", 10000), 0);
    Settle({&a, &b});
    EXPECT_EQ(b.owned.size(), 6u);
}

TEST_F(GroupCoordinator, ClosedConnectionEndsTheSession)
{
    Member a = NewMember(), b = NewMember();
    a.Join("t", 10000);
    b.Join("t", 300);
    Settle({&a, &b});
    // b's heartbeat is held when its connection dies (kill -9 of a client).
    TPMsgs m(b.owned);
    Mq__V1__HeartbeatRequest req;
    b.FillHeartbeat(&req, m, 5000);
    rc_submit_pb(b.rc, RC_PATH_HEARTBEAT, &req.base);
    rc_pump(b.rc, 100);
    Disconnect(b.rc);
    for (int i = 0; i < 10 && a.owned.size() < 12; i++)
        a.Heartbeat(2000);
    EXPECT_EQ(a.owned.size(), 12u);
}

TEST_F(GroupCoordinator, FencedCommitsAndFetchesAreRejected)
{
    Member a = NewMember(), b = NewMember();
    a.Join("t", 10000);
    int32_t e1 = a.epoch;
    TP p0 = *a.owned.begin();
    EXPECT_EQ(a.Commit(p0, 5, e1), std::make_pair(0, 0));
    EXPECT_EQ(a.Fetch(p0, e1), 0);
    EXPECT_EQ(a.Commit(p0, 5, e1 + 1).first, -MQ_ERR_FENCED_MEMBER_EPOCH);
    EXPECT_EQ(a.Commit(p0, 5, e1, "nobody").first, -MQ_ERR_UNKNOWN_MEMBER);
    EXPECT_EQ(a.Fetch(p0, e1 + 1), -MQ_ERR_FENCED_MEMBER_EPOCH);
    EXPECT_EQ(a.Commit(p0, 5, -1, "").first, -MQ_ERR_UNKNOWN_MEMBER)
        << "a commit outside the group while it has members";
    b.Join("t", 10000);
    Settle({&a, &b});
    TP moved = *b.owned.begin();
    // a, still at its first epoch, no longer owns what moved to b.
    EXPECT_EQ(a.Commit(moved, 7, e1), std::make_pair(0, -MQ_ERR_STALE_MEMBER_EPOCH));
    EXPECT_EQ(a.Fetch(moved, e1), -MQ_ERR_STALE_MEMBER_EPOCH);
    EXPECT_EQ(b.Commit(moved, 7, b.epoch), std::make_pair(0, 0));
    EXPECT_EQ(b.Fetch(moved, b.epoch), 0);
    // A member that left is a zombie: everything it sends is refused.
    Member gone = a;
    Mq__V1__LeaveGroupRequest lr = MQ__V1__LEAVE_GROUP_REQUEST__INIT;
    lr.group_id = (char *)"g";
    lr.member_id = (char *)a.id.c_str();
    lr.member_epoch = a.epoch;
    int st;
    auto *l = (Mq__V1__LeaveGroupResponse *)rc_call_pb(a.rc, RC_PATH_LEAVE_GROUP, &lr.base,
                                                       &mq__v1__leave_group_response__descriptor,
                                                       10000, &st, nullptr, 0);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->error_code, 0);
    protobuf_c_message_free_unpacked(&l->base, nullptr);
    TP kept = *gone.owned.begin();
    EXPECT_EQ(gone.Commit(kept, 9, gone.epoch).first, -MQ_ERR_UNKNOWN_MEMBER);
    EXPECT_EQ(gone.Fetch(kept, gone.epoch), -MQ_ERR_UNKNOWN_MEMBER);
}

TEST_F(GroupCoordinator, StaticMemberRestartMovesNothing)
{
    Member a = NewMember(), b = NewMember();
    ASSERT_EQ(a.Join("t", 2000, "inst-a"), 0);
    ASSERT_EQ(b.Join("t", 2000, "inst-b"), 0);
    Settle({&a, &b});
    std::set<TP> a_had = a.owned, b_had = b.owned;
    // a restarts: leaves, and a new process joins with the same instance id.
    Mq__V1__LeaveGroupRequest lr = MQ__V1__LEAVE_GROUP_REQUEST__INIT;
    lr.group_id = (char *)"g";
    lr.member_id = (char *)a.id.c_str();
    lr.member_epoch = a.epoch;
    int st;
    auto *l = (Mq__V1__LeaveGroupResponse *)rc_call_pb(a.rc, RC_PATH_LEAVE_GROUP, &lr.base,
                                                       &mq__v1__leave_group_response__descriptor,
                                                       10000, &st, nullptr, 0);
    ASSERT_NE(l, nullptr);
    protobuf_c_message_free_unpacked(&l->base, nullptr);
    EXPECT_FALSE(b.Heartbeat(300)) << "b's partitions do not change while a is away";
    Member a2 = NewMember();
    ASSERT_EQ(a2.Join("t", 2000, "inst-a"), 0);
    EXPECT_NE(a2.id, a.id);
    EXPECT_EQ(a2.owned, a_had) << "the restarted member gets its partitions back at once";
    EXPECT_FALSE(b.Heartbeat(0));
    EXPECT_EQ(b.owned, b_had);
    a.Heartbeat(0);
    EXPECT_EQ(a.last_error, -MQ_ERR_UNKNOWN_MEMBER) << "the old process is fenced";
}

TEST_F(GroupCoordinator, RegexSubscriptionFollowsNewTopics)
{
    Member a = NewMember();
    ASSERT_EQ(a.Join("", 10000, "", "orders-.*"), 0);
    EXPECT_TRUE(a.owned.empty());
    ASSERT_NO_FATAL_FAILURE(CreateTopic("orders-eu", 2));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("returns", 2));
    // The coordinator notices the new topic within a second; the held
    // heartbeat answers then.
    for (int i = 0; i < 10 && a.owned.size() < 2; i++)
        a.Heartbeat(1000);
    EXPECT_EQ(a.owned, (std::set<TP>{{"orders-eu", 0}, {"orders-eu", 1}}));
}

TEST_F(GroupCoordinator, MalformedGroupRequestsFailTheCall)
{
    rawclient_t *c = Connect();
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    for (const char *path : {RC_PATH_JOIN_GROUP, RC_PATH_HEARTBEAT, RC_PATH_LEAVE_GROUP,
                             RC_PATH_COMMIT_OFFSETS, RC_PATH_FETCH_OFFSETS}) {
        rc_result_t r;
        ASSERT_EQ(rc_unary(c, path, junk, sizeof junk, nullptr, 5000, &r), 1);
        EXPECT_EQ(r.grpc_status, 3) << path; // INVALID_ARGUMENT
        EXPECT_NE(std::string(r.grpc_message).find("malformed"), std::string::npos);
        rc_result_free(&r);
    }
}

TEST_F(GroupCoordinator, BadJoinsAreRefusedWithReasons)
{
    Member m = NewMember();
    EXPECT_EQ(m.Join("t", 50), -MQ_ERR_INVALID_SESSION_TIMEOUT);
    m.group = "bad/group";
    EXPECT_EQ(m.Join("t", 1000), -MQ_ERR_INVALID_GROUP_ID);
    m.group = "g";
    m.id = "not-a-member";
    EXPECT_EQ(m.Join("t", 1000), -MQ_ERR_UNKNOWN_MEMBER);
}

TEST_F(GroupCoordinator, RestartKeepsGroupsAndOffsets)
{
    Member a = NewMember();
    ASSERT_EQ(a.Join("t", 30000), 0);
    for (auto &tp : a.owned)
        ASSERT_EQ(a.Commit(tp, 100 + tp.second, a.epoch), std::make_pair(0, 0));
    std::string id = a.id;
    int32_t epoch = a.epoch;
    std::set<TP> owned = a.owned;
    Disconnect(a.rc);
    ASSERT_EQ(broker_.Stop(), 0);
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    a.rc = Connect();
    // The member carries on: same id, epoch and partitions.
    EXPECT_FALSE(a.Heartbeat(0));
    EXPECT_EQ(a.last_error, 0);
    EXPECT_EQ(a.id, id);
    EXPECT_EQ(a.epoch, epoch);
    EXPECT_EQ(a.owned, owned);
    Mq__V1__FetchOffsetsRequest fr = MQ__V1__FETCH_OFFSETS_REQUEST__INIT;
    fr.group_id = (char *)"g";
    int st;
    auto *r = (Mq__V1__FetchOffsetsResponse *)rc_call_pb(
        a.rc, RC_PATH_FETCH_OFFSETS, &fr.base, &mq__v1__fetch_offsets_response__descriptor, 10000,
        &st, nullptr, 0);
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->n_results, 12u);
    for (size_t i = 0; i < r->n_results; i++) {
        EXPECT_STREQ(r->results[i]->topic, "t");
        EXPECT_EQ(r->results[i]->offset, 100 + r->results[i]->partition);
        EXPECT_STREQ(r->results[i]->metadata, "m");
        EXPECT_GT(r->results[i]->commit_time_ms, 0);
    }
    protobuf_c_message_free_unpacked(&r->base, nullptr);
    // A partition never committed reads -1.
    Mq__V1__TopicPartitions tp = MQ__V1__TOPIC_PARTITIONS__INIT;
    int32_t parts[1] = {3};
    tp.topic = (char *)"t";
    tp.partitions = parts;
    tp.n_partitions = 1;
    Mq__V1__TopicPartitions *tps[1] = {&tp};
    fr.group_id = (char *)"other";
    fr.partitions = tps;
    fr.n_partitions = 1;
    r = (Mq__V1__FetchOffsetsResponse *)rc_call_pb(a.rc, RC_PATH_FETCH_OFFSETS, &fr.base,
                                                   &mq__v1__fetch_offsets_response__descriptor,
                                                   10000, &st, nullptr, 0);
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->n_results, 1u);
    EXPECT_EQ(r->results[0]->offset, -1);
    protobuf_c_message_free_unpacked(&r->base, nullptr);
}

namespace
{

struct Json {
    long status = -1;
    cJSON *doc = nullptr;
    std::string body;
    ~Json()
    {
        cJSON_Delete(doc);
    }
    cJSON *data() const
    {
        return cJSON_GetObjectItemCaseSensitive(doc, "data");
    }
    std::string error() const
    {
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "error"));
        return e ? e : "";
    }
};

void Admin(const char *addr, const char *method, const std::string &path, const char *body,
           Json *out)
{
    char *resp = nullptr;
    out->status = rc_admin_request(addr, method, path.c_str(), body, &resp);
    out->body = resp ? resp : "";
    free(resp);
    cJSON_Delete(out->doc);
    out->doc = cJSON_Parse(out->body.c_str());
}

// offsets[] entry of one partition, or nullptr.
cJSON *OffsetRow(cJSON *group, int partition)
{
    cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItem(group, "offsets"))
    {
        if (cJSON_GetObjectItem(o, "partition")->valueint == partition)
            return o;
    }
    return nullptr;
}

} // namespace

TEST_F(GroupCoordinator, AdminListDescribeLagResetAndDelete)
{
    rawclient_t *pc = Connect();
    // Produce 10, 20 and 30 records to partitions 0, 1, 2, in batches of 10
    // with timestamps 1000, 2000, 3000 (+ the record's index).
    for (int p = 0; p < 3; p++) {
        for (int k = 0; k <= p; k++) {
            size_t len;
            uint8_t *b = rc_make_batch(10, 10, 1000 * (k + 1), 7, &len);
            rc_produce_result_t pr;
            ASSERT_EQ(rc_produce(pc, "t", p, b, len, 1, &pr), 0) << pr.grpc_message;
            free(b);
        }
    }
    Member a = NewMember();
    ASSERT_EQ(a.Join("t", 10000), 0);
    ASSERT_EQ(a.Commit({"t", 0}, 4, a.epoch), std::make_pair(0, 0));
    ASSERT_EQ(a.Commit({"t", 1}, 5, a.epoch), std::make_pair(0, 0));
    const char *addr = broker_.admin_addr();

    Json list;
    Admin(addr, "GET", "/api/v1/groups", nullptr, &list);
    ASSERT_EQ(list.status, 200) << list.body;
    ASSERT_EQ(cJSON_GetArraySize(list.data()), 1);
    cJSON *g0 = cJSON_GetArrayItem(list.data(), 0);
    EXPECT_STREQ(cJSON_GetObjectItem(g0, "group_id")->valuestring, "g");
    EXPECT_EQ(cJSON_GetObjectItem(g0, "members")->valueint, 1);
    EXPECT_STREQ(cJSON_GetObjectItem(g0, "state")->valuestring, "stable");
    char *metrics = nullptr;
    ASSERT_EQ(rc_admin_request(addr, "GET", "/metrics", nullptr, &metrics), 200);
    std::string m = metrics ? metrics : "";
    free(metrics);
    EXPECT_NE(m.find("\nmq_consumer_groups 1\n"), std::string::npos) << m;
    EXPECT_NE(m.find("\nmq_consumer_group_members 1\n"), std::string::npos);
    EXPECT_NE(m.find("\nmq_consumer_group_rebalances_total 1\n"), std::string::npos);

    Json d;
    Admin(addr, "GET", "/api/v1/groups/g", nullptr, &d);
    ASSERT_EQ(d.status, 200) << d.body;
    cJSON *members = cJSON_GetObjectItem(d.data(), "members");
    ASSERT_EQ(cJSON_GetArraySize(members), 1);
    EXPECT_STREQ(cJSON_GetObjectItem(cJSON_GetArrayItem(members, 0), "member_id")->valuestring,
                 a.id.c_str());
    // lag = produced - committed, per partition and in total.
    cJSON *r0 = OffsetRow(d.data(), 0), *r1 = OffsetRow(d.data(), 1), *r2 = OffsetRow(d.data(), 2);
    ASSERT_TRUE(r0 && r1 && r2) << d.body;
    EXPECT_EQ(cJSON_GetObjectItem(r0, "lag")->valueint, 10 - 4);
    EXPECT_EQ(cJSON_GetObjectItem(r1, "lag")->valueint, 20 - 5);
    EXPECT_EQ(cJSON_GetObjectItem(r1, "log_end_offset")->valueint, 20);
    EXPECT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(r2, "lag"))) << "assigned, never committed";
    EXPECT_EQ(cJSON_GetObjectItem(r2, "committed_offset")->valueint, -1);
    EXPECT_EQ(cJSON_GetObjectItem(d.data(), "total_lag")->valueint, 6 + 15);

    // A group with members can be neither deleted nor reset.
    Json del;
    Admin(addr, "DELETE", "/api/v1/groups/g", nullptr, &del);
    EXPECT_EQ(del.status, 409) << del.body;
    Json busy;
    Admin(addr, "POST", "/api/v1/groups/g/offsets", R"({"topic":"t","to":"earliest"})", &busy);
    EXPECT_EQ(busy.status, 409) << busy.body;

    Mq__V1__LeaveGroupRequest lr = MQ__V1__LEAVE_GROUP_REQUEST__INIT;
    lr.group_id = (char *)"g";
    lr.member_id = (char *)a.id.c_str();
    lr.member_epoch = a.epoch;
    int st;
    auto *l = (Mq__V1__LeaveGroupResponse *)rc_call_pb(a.rc, RC_PATH_LEAVE_GROUP, &lr.base,
                                                       &mq__v1__leave_group_response__descriptor,
                                                       10000, &st, nullptr, 0);
    ASSERT_NE(l, nullptr);
    protobuf_c_message_free_unpacked(&l->base, nullptr);

    // Dry run: the plan, nothing applied.
    Json dry;
    Admin(addr, "POST", "/api/v1/groups/g/offsets",
          R"({"topic":"t","to":"earliest","dry_run":true})", &dry);
    ASSERT_EQ(dry.status, 200) << dry.body;
    EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(dry.data(), "dry_run")));
    cJSON *plan = cJSON_GetObjectItem(dry.data(), "partitions");
    ASSERT_EQ(cJSON_GetArraySize(plan), 12);
    EXPECT_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(plan, 1), "current_offset")->valueint, 5);
    EXPECT_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(plan, 1), "new_offset")->valueint, 0);
    EXPECT_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(plan, 5), "current_offset")->valueint, -1);
    Json again;
    Admin(addr, "GET", "/api/v1/groups/g", nullptr, &again);
    EXPECT_EQ(cJSON_GetObjectItem(OffsetRow(again.data(), 1), "committed_offset")->valueint, 5);

    // Applied: latest, an explicit offset (clamped to the log), a time.
    Json latest, off, clamp, ts;
    Admin(addr, "POST", "/api/v1/groups/g/offsets",
          R"({"topic":"t","to":"latest","partitions":[0]})", &latest);
    EXPECT_EQ(latest.status, 200) << latest.body;
    Admin(addr, "POST", "/api/v1/groups/g/offsets",
          R"({"topic":"t","to":"offset","offset":3,"partitions":[1]})", &off);
    EXPECT_EQ(off.status, 200) << off.body;
    Admin(addr, "POST", "/api/v1/groups/g/offsets",
          R"({"topic":"t","to":"offset","offset":999,"partitions":[3]})", &clamp);
    EXPECT_EQ(clamp.status, 200) << clamp.body;
    Admin(addr, "POST", "/api/v1/groups/g/offsets",
          R"({"topic":"t","to":"timestamp","timestamp":2000,"partitions":[2]})", &ts);
    EXPECT_EQ(ts.status, 200) << ts.body;
    Json after;
    Admin(addr, "GET", "/api/v1/groups/g", nullptr, &after);
    EXPECT_EQ(cJSON_GetObjectItem(OffsetRow(after.data(), 0), "committed_offset")->valueint, 10);
    EXPECT_EQ(cJSON_GetObjectItem(OffsetRow(after.data(), 1), "committed_offset")->valueint, 3);
    EXPECT_EQ(cJSON_GetObjectItem(OffsetRow(after.data(), 2), "committed_offset")->valueint, 10);
    EXPECT_EQ(cJSON_GetObjectItem(OffsetRow(after.data(), 3), "committed_offset")->valueint, 0);
    EXPECT_EQ(cJSON_GetObjectItem(after.data(), "total_lag")->valueint, 0 + 17 + 20 + 0);

    // Bad requests name the problem.
    struct {
        const char *body;
        long status;
        const char *says;
    } bad[] = {
        {R"({"topic":"t","to":"sideways"})", 400, "'to'"},
        {R"({"to":"earliest"})", 400, "'topic'"},
        {R"({"topic":"t","to":"offset"})", 400, "'offset'"},
        {R"({"topic":"t","to":"earliest","color":1})", 400, "'color'"},
        {R"({"topic":"t","to":"earliest","partitions":[12]})", 400, "0 to 11"},
        {R"({"topic":"nope","to":"earliest"})", 404, "nope"},
        {"[1]", 400, "JSON object"},
    };
    for (auto &b : bad) {
        Json j;
        Admin(addr, "POST", "/api/v1/groups/g/offsets", b.body, &j);
        EXPECT_EQ(j.status, b.status) << b.body << " -> " << j.body;
        EXPECT_NE(j.error().find(b.says), std::string::npos) << j.error();
    }
    Json wrong;
    Admin(addr, "PUT", "/api/v1/groups/g", "{}", &wrong);
    EXPECT_EQ(wrong.status, 405);

    // Delete the empty group; it stays gone after a restart.
    Json gone;
    Admin(addr, "DELETE", "/api/v1/groups/g", nullptr, &gone);
    EXPECT_EQ(gone.status, 200) << gone.body;
    Json missing;
    Admin(addr, "GET", "/api/v1/groups/g", nullptr, &missing);
    EXPECT_EQ(missing.status, 404);
    Admin(addr, "DELETE", "/api/v1/groups/g", nullptr, &missing);
    EXPECT_EQ(missing.status, 404);
    ASSERT_EQ(broker_.Stop(), 0);
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    Json later;
    Admin(broker_.admin_addr(), "GET", "/api/v1/groups", nullptr, &later);
    EXPECT_EQ(cJSON_GetArraySize(later.data()), 0) << later.body;
}

TEST_F(GroupCoordinator, AnsweredCommitSurvivesKill9)
{
    Member a = NewMember();
    ASSERT_EQ(a.Join("t", 30000), 0);
    // Every answered commit is in meta.db: kill -9 right after the last.
    for (int i = 1; i <= 20; i++)
        ASSERT_EQ(a.Commit({"t", i % 12}, 1000 + i, a.epoch), std::make_pair(0, 0));
    Disconnect(a.rc);
    broker_.Kill();
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    rawclient_t *c = Connect();
    Mq__V1__FetchOffsetsRequest fr = MQ__V1__FETCH_OFFSETS_REQUEST__INIT;
    fr.group_id = (char *)"g";
    int st;
    auto *r = (Mq__V1__FetchOffsetsResponse *)rc_call_pb(
        c, RC_PATH_FETCH_OFFSETS, &fr.base, &mq__v1__fetch_offsets_response__descriptor, 10000, &st,
        nullptr, 0);
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->n_results, 12u);
    for (size_t i = 0; i < r->n_results; i++) {
        int p = r->results[i]->partition;
        int last = p == 0 ? 12 : (p <= 8 ? 12 + p : p); // the last i with i % 12 == p
        EXPECT_EQ(r->results[i]->offset, 1000 + last) << "partition " << p;
    }
    protobuf_c_message_free_unpacked(&r->base, nullptr);
}
