/*  flotilla/version.h - the release this tree builds.  */
#ifndef FLOTILLA_VERSION_H_INCLUDED
#define FLOTILLA_VERSION_H_INCLUDED

#define FLOTILLA_VERSION_MAJOR 0
#define FLOTILLA_VERSION_MINOR 1
#define FLOTILLA_VERSION_PATCH 0
#define FLOTILLA_VERSION "0.1.0"

#endif
