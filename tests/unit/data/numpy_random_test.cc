#include "jobs/data/numpy_random.h"

#include <gtest/gtest.h>

#include <numeric>

namespace nephron::data {
namespace {

// Expected values were produced by numpy 1.24 (legacy RandomState):
//   RandomState(5489).randint(0, 2**32, size=2, dtype=np.uint32)   -> 3499211612, 581869302
//   RandomState(12345).randint(0, 2**32, size=3, dtype=np.uint64)  -> 3992670690, 3823185381, 1358822685
//   a = np.arange(10); RandomState(12345).shuffle(a)               -> 0 7 3 9 6 4 1 8 5 2
//   RandomState(1234).randint(0, 100, size=8)                      -> 47 83 38 53 76 24 15 49
//   RandomState(1234).choice(1000, 5, replace=False)               -> 681 990 155 768 438
TEST(NumpyRandomStateTest, MatchesMt19937Reference) {
  NumpyRandomState a(5489);
  EXPECT_EQ(a.NextUint32(), 3499211612u);
  EXPECT_EQ(a.NextUint32(), 581869302u);
  NumpyRandomState b(12345);
  EXPECT_EQ(b.NextUint32(), 3992670690u);
  EXPECT_EQ(b.NextUint32(), 3823185381u);
  EXPECT_EQ(b.NextUint32(), 1358822685u);
}

TEST(NumpyRandomStateTest, ShuffleMatchesNumpy) {
  std::vector<int> v(10);
  std::iota(v.begin(), v.end(), 0);
  NumpyRandomState rs(12345);
  rs.Shuffle(&v);
  EXPECT_EQ(v, (std::vector<int>{0, 7, 3, 9, 6, 4, 1, 8, 5, 2}));
}

TEST(NumpyRandomStateTest, RandIntMatchesNumpy) {
  NumpyRandomState rs(1234);
  std::vector<int64_t> got;
  for (int i = 0; i < 8; ++i) got.push_back(rs.RandInt(100));
  EXPECT_EQ(got, (std::vector<int64_t>{47, 83, 38, 53, 76, 24, 15, 49}));
}

TEST(NumpyRandomStateTest, ChoiceWithoutReplacementIsPermutationPrefix) {
  std::vector<int64_t> perm(1000);
  std::iota(perm.begin(), perm.end(), 0);
  NumpyRandomState rs(1234);
  rs.Shuffle(&perm);
  EXPECT_EQ(std::vector<int64_t>(perm.begin(), perm.begin() + 5), (std::vector<int64_t>{681, 990, 155, 768, 438}));
}

}  // namespace
}  // namespace nephron::data
