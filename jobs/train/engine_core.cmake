# The LibTorch engine core: depends on LibTorch and the C++ standard library
# only (plus a few dependency-free project files), so it also builds on
# machines that have nothing but LibTorch. Included from the top level, both
# in the full build and with NEPHRON_ENGINE_ONLY.
add_library(nephron_train_core STATIC
  ${PROJECT_SOURCE_DIR}/jobs/train/network.cc
  ${PROJECT_SOURCE_DIR}/jobs/train/loss.cc
  ${PROJECT_SOURCE_DIR}/jobs/train/augment.cc
  ${PROJECT_SOURCE_DIR}/jobs/train/cpu_kernels.cc
  ${PROJECT_SOURCE_DIR}/jobs/train/augment_bench.cc
  ${PROJECT_SOURCE_DIR}/jobs/train/train_bench.cc
)
target_include_directories(nephron_train_core PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(nephron_train_core PRIVATE ${NEPHRON_WARNINGS})
# Torch stays inside this target's link interface; its compile flags reach
# only targets that include torch headers (those link `torch` themselves).
target_link_libraries(nephron_train_core PUBLIC torch Threads::Threads)
target_precompile_headers(nephron_train_core PRIVATE <torch/torch.h>)

add_executable(nephron-train-bench ${PROJECT_SOURCE_DIR}/jobs/train/bench_main.cc)
target_link_libraries(nephron-train-bench PRIVATE nephron_train_core)
