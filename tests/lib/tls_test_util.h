// Helpers for the TLS and ACL tests (C++ only): certificates made once per
// test program by scripts/dev-certs, broker arguments for a TLS broker, and
// an admin REST client over TLS (libcurl, HTTP/1.1 or h2 via ALPN).
#ifndef MQ_TESTS_TLS_TEST_UTIL_H
#define MQ_TESTS_TLS_TEST_UTIL_H

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

// The directory of the dev certificates (principals client, alice, bob and
// admin); made on first use, removed at exit.
inline const std::string &TestCerts()
{
    static std::string dir;
    if (!dir.empty())
        return dir;
    char tmpl[] = "/tmp/mq-certs-XXXXXX";
    if (!mkdtemp(tmpl))
        return dir;
    std::string cmd = std::string(MQ_SOURCE_DIR) + "/scripts/dev-certs " + tmpl +
                      " client alice bob admin >/dev/null";
    if (system(cmd.c_str()) != 0)
        return dir;
    dir = tmpl;
    static std::string rm = "rm -rf " + dir;
    atexit([] {
        if (system(rm.c_str()) != 0) {
        }
    });
    return dir;
}

inline std::string Cert(const std::string &name)
{
    return TestCerts() + "/" + name;
}

// Broker flags for a TLS --listen port and admin port with mTLS.
inline std::vector<std::string> TlsBrokerArgs(const std::string &server = "broker",
                                              const std::string &client_auth = "required")
{
    return {"--ssl-cert",         Cert(server + ".pem"), "--ssl-key",         Cert(server + ".key"),
            "--ssl-ca",           Cert("ca.pem"),        "--ssl-client-auth", client_auth,
            "--ssl.crl.location", Cert("crl.pem")};
}

struct AdminReply {
    long status = -1;  // HTTP status, -1 if no response
    long http_version; // CURL_HTTP_VERSION_1_1 or CURL_HTTP_VERSION_2_0
    std::string body;
    std::string error; // curl's error when status is -1
};

inline size_t AdminWrite(char *p, size_t size, size_t n, void *ud)
{
    static_cast<std::string *>(ud)->append(p, size * n);
    return size * n;
}

// method path body over https://ADMIN_ADDR with the principal's certificate
// (empty: none). h2 picks HTTP/2 via ALPN, else HTTP/1.1.
inline AdminReply AdminTls(const std::string &admin_addr, const std::string &method,
                           const std::string &path, const std::string &body,
                           const std::string &principal, bool h2 = false)
{
    AdminReply r;
    CURL *c = curl_easy_init();
    if (!c)
        return r;
    std::string url = "https://" + admin_addr + path;
    std::string ca = Cert("ca.pem"), cert = Cert(principal + ".pem"),
                key = Cert(principal + ".key");
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_CAINFO, ca.c_str());
    if (!principal.empty()) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert.c_str());
        curl_easy_setopt(c, CURLOPT_SSLKEY, key.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, h2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AdminWrite);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    struct curl_slist *hdrs = nullptr;
    if (!body.empty()) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    }
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &r.http_version);
    } else {
        r.error = err;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return r;
}

#endif
