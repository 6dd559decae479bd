/*
 * The checksum every log and kv row carries in its crc column (schema
 * version 4): CRC-32C over the row's fields in a fixed order, each field as
 * a type tag, then an 8-byte integer or a 4-byte length and the bytes, so
 * TEXT 'a', BLOB x'61' and NULL differ. Registered as the SQL function
 * raft_row_crc(...) on every connection, which is what the INSERTs and the
 * version 4 migration call; readers recompute it from the columns they
 * read. Read storage/row_crc.c next.
 */
#ifndef RAFT_STORAGE_ROW_CRC_H
#define RAFT_STORAGE_ROW_CRC_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* CRC-32C (Castagnoli) of len bytes, continuing from crc (0 to start). */
uint32_t row_crc32c(uint32_t crc, const void *bytes, size_t len);

/* The same by tables only, whatever the CPU (tests compare the two). */
uint32_t row_crc32c_portable(uint32_t crc, const void *bytes, size_t len);

/* The checksum of n values (a row's fields, in the order of its table's
 * list in storage/schema.h). */
uint32_t row_crc_values(int n, sqlite3_value **values);

/* The checksum of columns first..first+n-1 of st's current row. */
uint32_t row_crc_columns(sqlite3_stmt *st, int first, int n);

/* True when column crc_col of st's row holds the checksum of columns
 * first..first+n-1 (a NULL or non-integer crc never matches). */
int row_crc_check(sqlite3_stmt *st, int first, int n, int crc_col);

/* Registers raft_row_crc(...) (any number of arguments, deterministic) on
 * db. Returns a SQLite result code. */
int row_crc_register(sqlite3 *db);

#endif
