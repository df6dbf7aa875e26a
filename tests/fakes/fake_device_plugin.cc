// A stand-in for an out-of-tree LibTorch device backend (--device-plugin):
// when loaded, it writes "loaded" to $NEPHRON_FAKE_PLUGIN_MARK, so a test can
// tell that the library was loaded before the command ran. It registers no
// device type.
#include <cstdio>
#include <cstdlib>

namespace {

__attribute__((constructor)) void MarkLoaded() {
  const char* path = std::getenv("NEPHRON_FAKE_PLUGIN_MARK");
  if (path == nullptr) return;
  if (FILE* f = std::fopen(path, "w")) {
    std::fputs("loaded\n", f);
    std::fclose(f);
  }
}

}  // namespace
