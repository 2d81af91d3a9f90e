module github.com/swiftfs/swiftfs

go 1.26.8

require (
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	github.com/hanwen/go-fuse/v2 v2.12.1 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/mattn/go-sqlite3 v1.14.53 // indirect
	github.com/ncw/swift/v2 v2.0.5 // indirect
	golang.org/x/sys v0.28.0 // indirect
)
