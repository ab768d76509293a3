// The public API of libxpubench. The library is built with hidden visibility
// (-fvisibility=hidden): only declarations marked XPB_API can be linked against, so what the
// headers under include/xpubench promise is exactly what a user can reach.
#pragma once

#define XPB_API __attribute__((visibility("default")))
