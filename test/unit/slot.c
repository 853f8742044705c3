/*
 * Unit test of the slot function against the published Redis Cluster
 * vectors (CRC16("123456789") = 0x31C3, the hash-tag rules of the cluster
 * specification) and of the slot->shard table.
 */
#include "tessera/route/slot.h"
#include "ts_test.h"

static unsigned slot_of(const char *s) { return ts_key_slot(s, strlen(s)); }

/* The CRC one bit at a time, straight from the definition (XMODEM). */
static uint16_t crc16_bitwise(const unsigned char *p, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

int main(void)
{
    CHECK_EQ_INT(ts_crc16("123456789", 9), 0x31C3);
    CHECK_EQ_INT(ts_crc16("", 0), 0);
    /* The eight-bytes-a-step path and its tail agree with the definition
     * at every length and alignment. */
    unsigned char buf[80];
    uint32_t seed = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char)(seed >> 16);
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= sizeof buf; len++)
            CHECK_EQ_INT(ts_crc16((const char *)buf + off, len), crc16_bitwise(buf + off, len));
    /* Slots as reported by CLUSTER KEYSLOT in the Redis Cluster docs. */
    CHECK_EQ_INT(slot_of("foo"), 12182);
    CHECK_EQ_INT(slot_of("bar"), 5061);
    CHECK_EQ_INT(slot_of("hello"), 866);
    CHECK_EQ_INT(slot_of("somekey"), 11058);
    /* Hash tags, from the cluster specification's examples. */
    CHECK_EQ_INT(slot_of("{user1000}.following"), slot_of("user1000"));
    CHECK_EQ_INT(slot_of("{user1000}.followers"), slot_of("user1000"));
    CHECK_EQ_INT(slot_of("foo{}{bar}"), ts_crc16("foo{}{bar}", 10) & 16383);
    CHECK_EQ_INT(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    CHECK_EQ_INT(slot_of("foo{bar}{zap}"), slot_of("bar"));
    CHECK_EQ_INT(slot_of("{}"), ts_crc16("{}", 2) & 16383);
    CHECK_EQ_INT(slot_of("{a"), ts_crc16("{a", 2) & 16383);
    CHECK_EQ_INT(slot_of("a}b{c}"), slot_of("c"));

    for (unsigned n = 1; n <= 8; n++) {
        ts_slot_map_init(n);
        unsigned counts[8] = {0};
        for (unsigned s = 0; s < TS_SLOTS; s++) counts[ts_slot_owner[s]]++;
        for (unsigned i = 0; i < n; i++) CHECK(counts[i] >= TS_SLOTS / n - 1 && counts[i] <= TS_SLOTS / n + 1);
    }
    TS_TEST_MAIN_END();
}
