// Helpers shared by the libmqclient producer tests: a producer from
// key/value settings, and delivery reports gathered by opaque (the message
// index the test passed to mq_produce).
#ifndef MQ_TESTS_PRODUCER_TEST_UTIL_H
#define MQ_TESTS_PRODUCER_TEST_UTIL_H

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

extern "C" {
#include "mqclient.h"
}

// What the delivery report of one message said; count is how many came.
struct Report {
    mq_err_t err = MQ_OK;
    int32_t partition = -1;
    int64_t offset = -1;
    mq_persisted_t persisted = MQ_NOT_PERSISTED;
    int count = 0;
};

// A producer for brokers with the settings in kv (failures are test
// failures; NULL then).
inline mq_producer_t *NewTestProducer(const std::string &brokers,
                                      const std::vector<std::pair<const char *, const char *>> &kv)
{
    mq_conf_t *c = mq_conf_new();
    char err[512];
    EXPECT_EQ(mq_conf_set(c, "bootstrap.servers", brokers.c_str(), err, sizeof err), MQ_OK);
    for (auto &p : kv)
        EXPECT_EQ(mq_conf_set(c, p.first, p.second, err, sizeof err), MQ_OK) << err;
    mq_producer_t *p = nullptr;
    EXPECT_EQ(mq_producer_new(c, &p, err, sizeof err), MQ_OK) << err;
    mq_conf_destroy(c);
    return p;
}

// If ev is a delivery report, records it in reports[opaque] and returns true.
inline bool RecordDelivery(const mq_event_t *ev, std::vector<Report> &reports)
{
    if (mq_event_type(ev) != MQ_EVENT_DELIVERY)
        return false;
    size_t i = (size_t)(uintptr_t)mq_event_opaque(ev);
    EXPECT_LT(i, reports.size());
    if (i >= reports.size())
        return false;
    Report &r = reports[i];
    r.err = mq_event_error(ev);
    r.partition = mq_event_partition(ev);
    r.offset = mq_event_offset(ev);
    r.persisted = mq_event_persisted(ev);
    r.count++;
    return true;
}

#endif
