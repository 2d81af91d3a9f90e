module github.com/swiftfs/swiftfs

go 1.26.8

require (
	github.com/gophercloud/gophercloud/v2 v2.16.0
	github.com/hanwen/go-fuse/v2 v2.12.1 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/mattn/go-sqlite3 v1.14.53 // indirect
	github.com/ncw/swift/v2 v2.0.5 // indirect
	golang.org/x/sys v0.47.0 // indirect
	gopkg.in/yaml.v2 v2.4.0
)
