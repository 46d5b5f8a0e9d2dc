package main

// The collector release every module of go.mod is pinned to (one release: the contrib rows of the module
// proxy pass together at this one).
const version = "0.161.0"
