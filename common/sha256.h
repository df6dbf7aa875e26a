// SHA-256, hex-encoded: of bytes, of a file, or incrementally (OpenSSL's EVP).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/status.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace nephron::net {

// Incremental: Update() any number of times, then Hex() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  std::string Hex();

 private:
  EVP_MD_CTX* ctx_;
};

// Hex SHA-256 of bytes, and of a file (NotFound / Internal naming it).
std::string Sha256Hex(const void* data, size_t size);
Result<std::string> Sha256OfFile(const std::string& path);

}  // namespace nephron::net
