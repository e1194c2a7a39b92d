#include "agent/flow/community_id.h"

#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <memory>
#include <utility>

namespace vigil::agent::flow {

IcmpPorts icmp_ports(bool v6, uint8_t type, uint8_t code) {
  // Request/reply pairs from the spec's reference implementation.
  static constexpr std::pair<uint8_t, uint8_t> kV4[] = {
      {8, 0}, {0, 8}, {13, 14}, {14, 13}, {15, 16}, {16, 15}, {10, 9}, {9, 10}, {17, 18}, {18, 17}};
  static constexpr std::pair<uint8_t, uint8_t> kV6[] = {
      {128, 129}, {129, 128}, {133, 134}, {134, 133}, {135, 136}, {136, 135},
      {130, 131}, {131, 130}, {144, 145}, {145, 144}, {139, 140}, {140, 139}};
  const auto* begin = v6 ? std::begin(kV6) : std::begin(kV4);
  const auto* end = v6 ? std::end(kV6) : std::end(kV4);
  for (const auto* it = begin; it != end; ++it) {
    if (it->first == type) return {type, it->second, false};
  }
  return {type, code, true};
}

std::string community_id_v1_mapped(const IpAddress& saddr, const IpAddress& daddr, uint8_t proto, uint16_t sport,
                                   uint16_t dport, bool one_way, uint16_t seed) {
  const IpAddress* a = &saddr;
  const IpAddress* b = &daddr;
  uint16_t pa = sport;
  uint16_t pb = dport;
  int cmp = std::memcmp(a->bytes().data(), b->bytes().data(), 16);
  bool ordered = one_way || cmp < 0 || (cmp == 0 && pa < pb);
  if (!ordered) {
    std::swap(a, b);
    std::swap(pa, pb);
  }
  std::array<uint8_t, 2 + 16 + 16 + 2 + 4> buf{};
  size_t n = 0;
  buf[n++] = static_cast<uint8_t>(seed >> 8);
  buf[n++] = static_cast<uint8_t>(seed);
  size_t alen = a->is_v4() ? 4 : 16;
  std::memcpy(buf.data() + n, a->is_v4() ? a->v4_data() : a->bytes().data(), alen);
  n += alen;
  std::memcpy(buf.data() + n, b->is_v4() ? b->v4_data() : b->bytes().data(), alen);
  n += alen;
  buf[n++] = proto;
  buf[n++] = 0;
  bool has_ports = proto == 6 || proto == 17 || proto == 132 || proto == 1 || proto == 58;
  if (has_ports) {
    buf[n++] = static_cast<uint8_t>(pa >> 8);
    buf[n++] = static_cast<uint8_t>(pa);
    buf[n++] = static_cast<uint8_t>(pb >> 8);
    buf[n++] = static_cast<uint8_t>(pb);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  // SHA-1 fetched once and one context per thread: OpenSSL 3 looks the algorithm up (under a
  // lock) on every EVP_Digest call, which cost more than the hash of these 40 bytes.
  static EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!sha1 || !ctx || EVP_DigestInit_ex2(ctx.get(), sha1, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), buf.data(), n) != 1 || EVP_DigestFinal_ex(ctx.get(), md, &md_len) != 1) {
    EVP_Digest(buf.data(), n, md, &md_len, EVP_sha1(), nullptr);
  }
  unsigned char b64[64] = {};
  int b64_len = EVP_EncodeBlock(b64, md, static_cast<int>(md_len));
  std::string out = "1:";
  out.append(reinterpret_cast<const char*>(b64), static_cast<size_t>(b64_len));
  return out;
}

std::string community_id_v1(const IpAddress& saddr, const IpAddress& daddr, uint8_t proto, uint16_t sport,
                            uint16_t dport, uint16_t seed) {
  if (proto == 1 || proto == 58) {
    auto ports = icmp_ports(proto == 58, static_cast<uint8_t>(sport), static_cast<uint8_t>(dport));
    return community_id_v1_mapped(saddr, daddr, proto, ports.sport, ports.dport, ports.one_way, seed);
  }
  return community_id_v1_mapped(saddr, daddr, proto, sport, dport, false, seed);
}

}  // namespace vigil::agent::flow
