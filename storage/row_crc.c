/*
 * Row checksums (storage/row_crc.h): a table-driven CRC-32C, with the SSE4.2
 * instruction when the CPU has it, and the encoding of SQLite values fed to
 * it. Pure apart from SQLite's value accessors: no I/O. Read
 * storage/schema.c next, for where the columns are listed.
 */
#include "storage/row_crc.h"

#include <stdbool.h>
#include <string.h>

/* Field tags: part of the checksum, so never renumber them. */
enum {
    ROW_CRC_NULL = 1,
    ROW_CRC_INT = 2,
    ROW_CRC_REAL = 3,
    ROW_CRC_TEXT = 4,
    ROW_CRC_BLOB = 5
};

#define ROW_CRC_POLY 0x82f63b78u /* CRC-32C, reflected. */

/* Slicing-by-8: crc_table[k][b] is the CRC of byte b followed by k zero
 * bytes, so eight bytes take eight independent lookups. */
static uint32_t crc_table[8][256];
static bool crc_table_ready;

static void crc_table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) != 0 ? (c >> 1) ^ ROW_CRC_POLY : c >> 1;
        }
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int k = 1; k < 8; k++) {
            uint32_t prev = crc_table[k - 1][i];
            crc_table[k][i] = crc_table[0][prev & 0xffu] ^ (prev >> 8);
        }
    }
    crc_table_ready = true;
}

static uint32_t crc_soft(uint32_t crc, const uint8_t *p, size_t len)
{
    if (!crc_table_ready) {
        crc_table_init(); /* Idempotent: a race writes the same table. */
    }
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                             (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = crc_table[7][lo & 0xffu] ^ crc_table[6][(lo >> 8) & 0xffu] ^
              crc_table[5][(lo >> 16) & 0xffu] ^ crc_table[4][lo >> 24] ^
              crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
              crc_table[0][p[7]];
        p += 8;
        len -= 8;
    }
    for (size_t i = 0; i < len; i++) {
        crc = crc_table[0][(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    }
    return crc;
}

uint32_t row_crc32c_portable(uint32_t crc, const void *bytes, size_t len)
{
    return ~crc_soft(~crc, bytes, len);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(ROW_CRC_NO_HW)
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, sizeof w);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
        p++;
        len--;
    }
    return c32;
}

static bool has_hw(void)
{
    static int known; /* 0: not asked, 1: no, 2: yes. */
    if (known == 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("sse4.2") ? 2 : 1;
    }
    return known == 2;
}
#endif

uint32_t row_crc32c(uint32_t crc, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    crc = ~crc;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(ROW_CRC_NO_HW)
    if (has_hw()) {
        return ~crc_hw(crc, p, len);
    }
#endif
    return ~crc_soft(crc, p, len);
}

/* Little-endian bytes of v, whatever the host. */
static void put_le(uint8_t *out, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        out[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t crc_value(uint32_t crc, sqlite3_value *v)
{
    uint8_t head[9];
    int type = sqlite3_value_type(v);
    if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
        uint64_t bits;
        if (type == SQLITE_INTEGER) {
            bits = (uint64_t)sqlite3_value_int64(v);
        } else {
            double d = sqlite3_value_double(v);
            memcpy(&bits, &d, sizeof bits);
        }
        head[0] = type == SQLITE_INTEGER ? ROW_CRC_INT : ROW_CRC_REAL;
        put_le(head + 1, bits, 8);
        return row_crc32c(crc, head, 9);
    }
    if (type == SQLITE_NULL) {
        head[0] = ROW_CRC_NULL;
        return row_crc32c(crc, head, 1);
    }
    /* Text first asked as text, so SQLite never converts it. */
    const void *p = type == SQLITE_TEXT ? (const void *)sqlite3_value_text(v)
                                        : sqlite3_value_blob(v);
    int len = sqlite3_value_bytes(v);
    head[0] = type == SQLITE_TEXT ? ROW_CRC_TEXT : ROW_CRC_BLOB;
    put_le(head + 1, (uint64_t)(uint32_t)len, 4);
    crc = row_crc32c(crc, head, 5);
    return len > 0 && p != NULL ? row_crc32c(crc, p, (size_t)len) : crc;
}

uint32_t row_crc_values(int n, sqlite3_value **values)
{
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        crc = crc_value(crc, values[i]);
    }
    return crc;
}

uint32_t row_crc_columns(sqlite3_stmt *st, int first, int n)
{
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        crc = crc_value(crc, sqlite3_column_value(st, first + i));
    }
    return crc;
}

int row_crc_check(sqlite3_stmt *st, int first, int n, int crc_col)
{
    if (sqlite3_column_type(st, crc_col) != SQLITE_INTEGER) {
        return 0;
    }
    int64_t stored = sqlite3_column_int64(st, crc_col);
    return stored == (int64_t)row_crc_columns(st, first, n);
}

static void sql_row_crc(sqlite3_context *ctx, int n, sqlite3_value **values)
{
    sqlite3_result_int64(ctx, (int64_t)row_crc_values(n, values));
}

int row_crc_register(sqlite3 *db)
{
    return sqlite3_create_function_v2(
        db, "raft_row_crc", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
        sql_row_crc, NULL, NULL, NULL);
}
