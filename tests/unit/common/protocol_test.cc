#include "common/protocol.h"

#include <gtest/gtest.h>

namespace nephron::proto {
namespace {

template <typename T>
T RoundTrip(const T& in, uint64_t id = 7) {
  const std::string bytes = Encode(in, id);
  auto d = Decode(bytes);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->envelope.version, kProtocolVersion);
  EXPECT_EQ(d->envelope.type, T::kType);
  EXPECT_EQ(d->envelope.request_id, id);
  auto out = d->template Body<T>();
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return *out;
}

TEST(ProtocolTest, RegisterRoundTrip) {
  RegisterMsg m{"gpu-3", "node7", "cuda:3", 81920, 16, "0.1.0", 42, 2};
  RegisterMsg r = RoundTrip(m);
  EXPECT_EQ(r.name, "gpu-3");
  EXPECT_EQ(r.host, "node7");
  EXPECT_EQ(r.device, "cuda:3");
  EXPECT_EQ(r.memory_mb, 81920);
  EXPECT_EQ(r.threads, 16);
  EXPECT_EQ(r.engine_version, "0.1.0");
  EXPECT_EQ(r.running_task, 42);
  EXPECT_EQ(r.running_attempt, 2);
}

TEST(ProtocolTest, WelcomeRefuseHeartbeatAckRoundTrip) {
  WelcomeMsg w{250, 5, false, "/srv/nephron", "0123abcd"};
  WelcomeMsg w2 = RoundTrip(w);
  EXPECT_EQ(w2.heartbeat_ms, 250);
  EXPECT_EQ(w2.liveness, 5);
  EXPECT_FALSE(w2.adopt);
  EXPECT_EQ(w2.data_root, "/srv/nephron");
  EXPECT_EQ(w2.root_token, "0123abcd");
  RefuseMsg f{"protocol version 9 is not supported", 1};
  EXPECT_EQ(RoundTrip(f).reason, f.reason);
  HeartbeatMsg h{12, 3};
  EXPECT_EQ(RoundTrip(h).task, 12);
  EXPECT_EQ(RoundTrip(h).attempt, 3);
  AckMsg a{5, 1};
  EXPECT_EQ(RoundTrip(a).task, 5);
  EXPECT_EQ(RoundTrip(a).attempt, 1);
}

TEST(ProtocolTest, AssignRoundTrip) {
  AssignMsg a;
  a.task = 9;
  a.attempt = 2;
  a.kind = "predict";
  a.experiment = 3;
  a.experiment_dir = "/data/experiments/3-demo";
  a.data_dir = "/data/kits19";
  a.spec_path = "/data/experiments/3-demo/spec.yaml";
  a.fold = 4;
  a.shard = 1;
  a.num_shards = 2;
  a.cases = {"case_00001", "case_00007"};
  a.output_dir = "/out";
  a.log_path = "/log";
  a.noop_seconds = 0.25;
  a.threads = 3;
  AssignMsg r = RoundTrip(a);
  EXPECT_EQ(r.task, 9);
  EXPECT_EQ(r.attempt, 2);
  EXPECT_EQ(r.kind, "predict");
  EXPECT_EQ(r.experiment, 3);
  EXPECT_EQ(r.experiment_dir, a.experiment_dir);
  EXPECT_EQ(r.data_dir, a.data_dir);
  EXPECT_EQ(r.spec_path, a.spec_path);
  EXPECT_EQ(r.fold, 4);
  EXPECT_EQ(r.shard, 1);
  EXPECT_EQ(r.num_shards, 2);
  EXPECT_EQ(r.cases, a.cases);
  EXPECT_EQ(r.output_dir, "/out");
  EXPECT_EQ(r.log_path, "/log");
  EXPECT_DOUBLE_EQ(r.noop_seconds, 0.25);
  EXPECT_EQ(r.threads, 3);
}

TEST(ProtocolTest, TaskStreamsRoundTrip) {
  CancelMsg c{4, 1, "experiment cancelled"};
  EXPECT_EQ(RoundTrip(c).reason, c.reason);
  ProgressMsg p{4, 1, "train", 3, 8, "epoch 3"};
  ProgressMsg p2 = RoundTrip(p);
  EXPECT_EQ(p2.stage, "train");
  EXPECT_EQ(p2.done, 3);
  EXPECT_EQ(p2.total, 8);
  EXPECT_EQ(p2.message, "epoch 3");
  LogMsg l{4, 1, {"a", "", "c"}};
  EXPECT_EQ(RoundTrip(l).lines, l.lines);
  MetricMsg m{4, 1, 7, 0.5, 0.6, {0.9, 0.4}, 0.7, 0.009, 12.5};
  MetricMsg m2 = RoundTrip(m);
  EXPECT_EQ(m2.epoch, 7);
  EXPECT_DOUBLE_EQ(m2.train_loss, 0.5);
  EXPECT_DOUBLE_EQ(m2.val_loss, 0.6);
  EXPECT_EQ(m2.dice, m.dice);
  EXPECT_DOUBLE_EQ(m2.ema_dice, 0.7);
  EXPECT_DOUBLE_EQ(m2.lr, 0.009);
  EXPECT_DOUBLE_EQ(m2.seconds, 12.5);
  TaskDoneMsg d{4, 1, false, true, false, 2, "spec: bad", {{"experiments/1/plans.json", 123, "ab"}}};
  TaskDoneMsg d2 = RoundTrip(d);
  EXPECT_FALSE(d2.ok);
  EXPECT_TRUE(d2.permanent);
  EXPECT_FALSE(d2.cancelled);
  EXPECT_EQ(d2.exit_code, 2);
  EXPECT_EQ(d2.error, "spec: bad");
  ASSERT_EQ(d2.artifacts.size(), 1u);
  EXPECT_EQ(d2.artifacts[0].path, "experiments/1/plans.json");
  EXPECT_EQ(d2.artifacts[0].size, 123);
}

TEST(ProtocolTest, OtherVersionIsDecodedSoItCanBeRefused) {
  auto d = Decode(Encode(HeartbeatMsg{}, 1, 99));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->envelope.version, 99);
}

TEST(ProtocolTest, WrongBodyTypeIsAnError) {
  auto d = Decode(Encode(HeartbeatMsg{}));
  ASSERT_TRUE(d.ok());
  auto r = d->Body<AssignMsg>();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Heartbeat"), std::string::npos);
}

TEST(ProtocolTest, GarbageAndMissingFieldsAreErrors) {
  EXPECT_FALSE(Decode("\xc1\xc1garbage").ok());
  msgpack::sbuffer buf;
  msgpack::pack(buf, std::map<std::string, int>{{"v", 1}});
  auto d = Decode(std::string(buf.data(), buf.size()));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("t (message type)"), std::string::npos);
}

TEST(ProtocolTest, UnknownFieldsAreIgnoredAndMissingOnesDefault) {
  // A newer peer's Heartbeat with an extra field, and an older one's without "attempt".
  msgpack::sbuffer body;
  msgpack::packer<msgpack::sbuffer> pk(body);
  pk.pack_map(2);
  pk.pack(std::string("task"));
  pk.pack(5);
  pk.pack(std::string("gpu_temperature"));
  pk.pack(71.5);
  auto d = Decode(EncodeEnvelope(MsgType::kHeartbeat, 3, body, kProtocolVersion));
  ASSERT_TRUE(d.ok());
  auto h = d->Body<HeartbeatMsg>();
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->task, 5);
  EXPECT_EQ(h->attempt, 0);
}

}  // namespace
}  // namespace nephron::proto
