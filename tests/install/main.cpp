// The public header must compile as C++ (extern "C", no C-only constructs).
#include <tcodec/tcodec.h>

#include <cstdio>

int main() {
  tcodec_reader *r = nullptr; // the opaque types are usable as pointers
  (void)r;
  std::printf("tcodec %s from C++; TCODEC_E_MAGIC: %s\n", tcodec_version_string(),
              tcodec_strerror(TCODEC_E_MAGIC));
  return tcodec_version_number() == TCODEC_VERSION_NUMBER ? 0 : 1;
}
