/* Links against the installed libtcodec and prints what it says about itself. */
#include <stdio.h>

#include <tcodec/tcodec.h>

int main(void) {
  const char *version = tcodec_version_string();
  const char *magic = tcodec_strerror(TCODEC_E_MAGIC);
  printf("tcodec %s; TCODEC_E_MAGIC: %s\n", version, magic);
  if (tcodec_version_number() != TCODEC_VERSION_NUMBER) {
    fprintf(stderr, "header says %d, library says %u\n", TCODEC_VERSION_NUMBER,
            tcodec_version_number());
    return 1;
  }
  return version && magic && magic[0] ? 0 : 1;
}
