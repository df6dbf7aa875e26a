#include "common/protocol.h"

namespace nephron::proto {

const char* MsgTypeName(MsgType t) {
  switch (t) {
    case MsgType::kRegister: return "Register";
    case MsgType::kWelcome: return "Welcome";
    case MsgType::kRefuse: return "Refuse";
    case MsgType::kHeartbeat: return "Heartbeat";
    case MsgType::kAssign: return "Assign";
    case MsgType::kCancel: return "Cancel";
    case MsgType::kProgress: return "Progress";
    case MsgType::kLog: return "Log";
    case MsgType::kMetric: return "Metric";
    case MsgType::kTaskDone: return "TaskDone";
    case MsgType::kAck: return "Ack";
    case MsgType::kFileStat: return "FileStat";
    case MsgType::kFileInfo: return "FileInfo";
    case MsgType::kFileRead: return "FileRead";
    case MsgType::kFileChunk: return "FileChunk";
    case MsgType::kFileWrite: return "FileWrite";
    case MsgType::kFileWritten: return "FileWritten";
    case MsgType::kFileCommit: return "FileCommit";
    case MsgType::kFileList: return "FileList";
    case MsgType::kFileListing: return "FileListing";
  }
  return "Unknown";
}

std::string EncodeEnvelope(MsgType type, uint64_t request_id, const msgpack::sbuffer& body, int version) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(4);
  pk.pack(std::string("v"));
  pk.pack(version);
  pk.pack(std::string("t"));
  pk.pack(static_cast<int>(type));
  pk.pack(std::string("id"));
  pk.pack(request_id);
  pk.pack(std::string("b"));
  buf.write(body.data(), body.size());  // already one packed MessagePack object
  return std::string(buf.data(), buf.size());
}

Result<Decoded> Decode(const std::string& bytes) {
  msgpack::object_handle oh;
  try {
    oh = msgpack::unpack(bytes.data(), bytes.size());
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("not a MessagePack message: ") + e.what());
  }
  const msgpack::object& root = oh.get();
  if (root.type != msgpack::type::MAP) return InvalidArgument("message envelope is not a map");
  Decoded d;
  bool have_v = false, have_t = false, have_b = false;
  try {
    for (uint32_t i = 0; i < root.via.map.size; ++i) {
      const auto& kv = root.via.map.ptr[i];
      if (kv.key.type != msgpack::type::STR) continue;
      const std::string key = kv.key.as<std::string>();
      if (key == "v") {
        d.envelope.version = kv.val.as<int>();
        have_v = true;
      } else if (key == "t") {
        const int t = kv.val.as<int>();
        if (t < static_cast<int>(MsgType::kRegister) || t > static_cast<int>(MsgType::kFileListing))
          return InvalidArgument("unknown message type " + std::to_string(t));
        d.envelope.type = static_cast<MsgType>(t);
        have_t = true;
      } else if (key == "id") {
        d.envelope.request_id = kv.val.as<uint64_t>();
      } else if (key == "b") {
        d.body_ = kv.val;
        have_b = true;
      }
    }
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("malformed envelope: ") + e.what());
  }
  if (!have_v) return InvalidArgument("envelope field v (protocol version) is missing");
  if (!have_t) return InvalidArgument("envelope field t (message type) is missing");
  if (!have_b) return InvalidArgument("envelope field b (body) is missing");
  d.zone_ = std::shared_ptr<msgpack::zone>(oh.zone().release());
  return d;
}

}  // namespace nephron::proto
