// The one translation unit that compiles Asio, Asio.SSL and Beast (BOOST_*_SEPARATE_COMPILATION
// is defined for every target through keygate_boost_config): a clean build on 2 cores compiles
// these headers' implementations once instead of in every file that uses them.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
