// Boost.Asio and Boost.Beast are compiled here, once (separate compilation); every other file
// includes only their headers, with BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION set by the vigil_common target.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
