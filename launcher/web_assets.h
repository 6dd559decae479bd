/*
 * The page's files (launcher/web: the .html, .js and .css), embedded in raftctl
 * as byte arrays by a CMake step (launcher/web/embed.cmake writes
 * web_assets.c into the build directory). Read launcher/web_http.c next.
 */
#ifndef RAFT_LAUNCHER_WEB_ASSETS_H
#define RAFT_LAUNCHER_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *name; /* "index.html" */
    const unsigned char *data;
    size_t len;
};

extern const struct web_asset web_assets[];
extern const size_t web_n_assets;

#endif
