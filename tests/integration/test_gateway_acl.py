"""ACLs as AWS's default (Object Ownership "BucketOwnerEnforced") answers them, through boto3.

The owner's grant is readable; only ACLs that change nothing are accepted; public or
cross-account grants are ``AccessControlListNotSupported`` and store nothing.
"""

from __future__ import annotations

from tests.integration.test_gateway_objects import code
from tests.planet import fails, planet, status


async def test_acls_are_the_owners_and_public_ones_are_refused(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        owner = net.tenants[0].id
        await net.s3(s3.create_bucket, Bucket="acls", ACL="private")
        grant = {"Grantee": {"ID": owner, "DisplayName": owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}
        got = await net.s3(s3.get_bucket_acl, Bucket="acls")
        assert got["Owner"]["ID"] == owner and got["Grants"] == [grant]
        await net.s3(s3.put_object, Bucket="acls", Key="k", Body=b"x", ACL="bucket-owner-full-control")
        assert (await net.s3(s3.get_object_acl, Bucket="acls", Key="k"))["Grants"] == [grant]

        err = await fails(net, s3.put_object, Bucket="acls", Key="public", Body=b"x", ACL="public-read")
        assert (code(err), status(err)) == ("AccessControlListNotSupported", 400)
        err = await fails(net, s3.create_bucket, Bucket="public-acls", ACL="public-read")
        assert (code(err), status(err)) == ("InvalidBucketAclWithObjectOwnership", 400)  # AWS's CreateBucket code
        err = await fails(net, s3.put_object, Bucket="acls", Key="granted", Body=b"x", GrantRead="id=someone-else")
        assert code(err) == "AccessControlListNotSupported"
        names = [b["Name"] for b in (await net.s3(s3.list_buckets))["Buckets"]]
        assert names == ["acls"]
        assert [o["Key"] for o in (await net.s3(s3.list_objects_v2, Bucket="acls"))["Contents"]] == ["k"]

        await net.s3(s3.put_bucket_acl, Bucket="acls", ACL="private")
        err = await fails(net, s3.put_bucket_acl, Bucket="acls", ACL="public-read")
        assert code(err) == "AccessControlListNotSupported"
        policy = {"Owner": {"ID": owner}, "Grants": [{"Grantee": {"ID": owner, "Type": "CanonicalUser"},
                                                      "Permission": "FULL_CONTROL"}]}  # fmt: skip
        await net.s3(s3.put_object_acl, Bucket="acls", Key="k", AccessControlPolicy=policy)
        public = {**policy, "Grants": [*policy["Grants"], {"Grantee": {"Type": "Group",
                  "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}]}  # fmt: skip
        err = await fails(net, s3.put_object_acl, Bucket="acls", Key="k", AccessControlPolicy=public)
        assert code(err) == "AccessControlListNotSupported"
        err = await fails(net, s3.get_object_acl, Bucket="acls", Key="missing")
        assert code(err) == "NoSuchKey"

        ownership = await net.s3(s3.get_bucket_ownership_controls, Bucket="acls")
        assert ownership["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        err = await fails(net, net.client(1).get_bucket_acl, Bucket="acls")
        assert code(err) == "AccessDenied"
