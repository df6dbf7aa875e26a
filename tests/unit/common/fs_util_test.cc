#include "common/fs_util.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace nephron {
namespace {

// RecordedPath: what an engine writes into experiment files for a path it
// was given; on a fetching worker, without the local mirror's prefix.
TEST(RecordedPathTest, StripsTheMirrorPrefixOnly) {
  unsetenv("NEPHRON_MIRROR_ROOT");
  EXPECT_EQ(RecordedPath("/srv/data/../data/kits"), "/srv/data/kits");
  setenv("NEPHRON_MIRROR_ROOT", "/cache/w1/mirror/", 1);
  EXPECT_EQ(RecordedPath("/cache/w1/mirror/srv/data/kits"), "/srv/data/kits");
  EXPECT_EQ(RecordedPath("/cache/w1/mirror/srv/data/kits/"), "/srv/data/kits/");
  EXPECT_EQ(RecordedPath("/cache/w1/mirrored/srv"), "/cache/w1/mirrored/srv");  // not under the prefix
  EXPECT_EQ(RecordedPath("/elsewhere/kits"), "/elsewhere/kits");
  unsetenv("NEPHRON_MIRROR_ROOT");
}

}  // namespace
}  // namespace nephron
