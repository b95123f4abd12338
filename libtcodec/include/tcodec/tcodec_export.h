/*
 * libtcodec — symbol visibility of the public API.
 *
 * The library is compiled with hidden visibility by default; only functions
 * marked TCODEC_API are exported from the shared library.
 *
 *  - TCODEC_STATIC: defined when building or using the static library
 *    (CMake's tcodec::tcodec_static and `pkg-config --static tcodec` set it);
 *    TCODEC_API is then empty.
 *  - TCODEC_BUILDING_DLL: defined only while compiling the shared library
 *    itself (CMake DEFINE_SYMBOL); on Windows it selects dllexport over dllimport.
 */
#ifndef TCODEC_EXPORT_H
#define TCODEC_EXPORT_H

#if defined(TCODEC_STATIC)
#define TCODEC_API
#elif defined(_WIN32) || defined(__CYGWIN__)
#if defined(TCODEC_BUILDING_DLL)
#define TCODEC_API __declspec(dllexport)
#else
#define TCODEC_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && (__GNUC__ >= 4)
#define TCODEC_API __attribute__((visibility("default")))
#else
#define TCODEC_API
#endif

#endif /* TCODEC_EXPORT_H */
