#include "common/sha256.h"

#include <openssl/evp.h>

#include <fstream>
#include <vector>

namespace nephron::net {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }

std::string Sha256::Hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) s += {kHex[md[i] >> 4], kHex[md[i] & 15]};
  return s;
}

std::string Sha256Hex(const void* data, size_t size) {
  Sha256 d;
  d.Update(data, size);
  return d.Hex();
}

Result<std::string> Sha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  Sha256 d;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) d.Update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Internal("cannot read " + path);
  return d.Hex();
}

}  // namespace nephron::net
