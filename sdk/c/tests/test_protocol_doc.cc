// docs/protocol.md reproduces the error table of sdk/c/src/error.c; this keeps
// the two in step (every code, name, grpc-status, HTTP status, retriable, text).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "error.h"
}

namespace
{

std::vector<std::string> split_row(const std::string &line)
{
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    std::getline(ss, cell, '|'); // before the first bar
    while (std::getline(ss, cell, '|')) {
        size_t a = cell.find_first_not_of(" `");
        size_t b = cell.find_last_not_of(" `");
        cells.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
    }
    if (!cells.empty() && cells.back().empty())
        cells.pop_back();
    return cells;
}

} // namespace

TEST(ProtocolDoc, ErrorTableMatchesErrorC)
{
    std::ifstream f(std::string(MQ_SOURCE_DIR) + "/docs/protocol.md");
    ASSERT_TRUE(f.good()) << "docs/protocol.md missing";
    std::string line;
    bool in_table = false;
    std::set<int> documented;
    while (std::getline(f, line)) {
        if (line.find("<!-- error-table") == 0) {
            in_table = true;
            continue;
        }
        if (line.find("<!-- end error-table") == 0)
            break;
        if (!in_table || line.size() < 2 || line[0] != '|' ||
            line.find("---") != std::string::npos || line.find("Wire code") != std::string::npos)
            continue;
        auto c = split_row(line);
        ASSERT_EQ(c.size(), 6u) << line;
        int wire = atoi(c[0].c_str());
        mq_err_t err = mq__err_from_wire(wire);
        SCOPED_TRACE(line);
        EXPECT_EQ(c[1], mq_err_name(err));
        EXPECT_EQ(atoi(c[2].c_str()), mq__err_grpc_status(err));
        EXPECT_EQ(atoi(c[3].c_str()), mq__err_http_status(err));
        EXPECT_EQ(c[4], mq_err_is_retriable(err) ? "yes" : "no");
        EXPECT_EQ(c[5], mq_err_str(err));
        EXPECT_TRUE(documented.insert(wire).second) << "code listed twice";
    }
    // Every code error.c knows is documented.
    for (int wire = 0; wire < 1000; wire++) {
        mq_err_t err = mq__err_from_wire(wire);
        bool known = wire == 1 || std::string(mq_err_name(err)) != "MQ_ERR_UNKNOWN";
        EXPECT_EQ(known, documented.count(wire) == 1) << "wire code " << wire;
    }
}
