//go:build tools

// Package kube pins the main packages built from other modules (etcd's root package is its server).
package kube

import _ "go.etcd.io/etcd/server/v3"
