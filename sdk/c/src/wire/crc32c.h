/* Private: CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum
 * of Kafka RecordBatch v2. SSE4.2 hardware when the CPU has it, else tables. */
#ifndef MQ_WIRE_CRC32C_H
#define MQ_WIRE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Extends crc (0 to start) with len bytes at buf and returns the new CRC.
 * mq__crc32c(0, "123456789", 9) == 0xE3069283. Chaining works:
 * mq__crc32c(mq__crc32c(0, a, n), b, m) == CRC of a followed by b. */
uint32_t mq__crc32c(uint32_t crc, const void *buf, size_t len);

/* The table implementation alone (tests compare it with the hardware path). */
uint32_t mq__crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* 1 if mq__crc32c uses the SSE4.2 instruction on this CPU. */
int mq__crc32c_hw_available(void);

#ifdef __cplusplus
}
#endif

#endif
