"""SHA-256 of every split of suite v2 (see ``tasks/splits.py`` for the exact bytes hashed).

A change to any task definition, sampler or split rule that alters a split changes a
digest, and ``tests/test_splits.py`` fails. Update these values only together with a new
``SUITE_VERSION``: results of different suite versions are not comparable.
"""

PINNED_SHA256: dict[str, dict[str, str]] = {
    "anbn": {
        "train": "e8fc0af67fd9a7b13bc47b220b2e1b50a2101b661f4056d6fe74568ec5f5cbbf",
        "val": "a1826b7480684e23d99b2d5be5d9bb40ce34bac61341a38a02a891f50c33efb7",
        "test": "720b0c28b0f9a129139c37ab9faa16de5611cef846df8f5c80e1d44a80fb464e",
        "id_prompts": "bb798ec1986a230d6a0113dfb72f1d6f53534bf57409e804eb6232eaf08805ed",
        "ood_prompts": "60be1d4369e1bd07800e6a8b2c58d63e67c9605c18cec9a956dc46c09fc1758c",
        "length_prompts": "cb2e00e2daefe16d3c643c41e9ae17b14012dd44f306d2d40897c7123f183ac9",
    },
    "anbncn": {
        "train": "aa417921f7a64d9cb034f00891849fc2763101794c6d3572fde6c9f01e7374c0",
        "val": "973b229334c42fcc8746437d23e610567a4f9f30900f22ab7701fb88f788f1f6",
        "test": "fca37906acad6da10faefe7e7d728a3bb7137dc17a32b7a0cc371d167652d87c",
        "id_prompts": "da9c2e1d3a8f5ded6fb25436733ad3f4d7726acbb1e5eeb813879eee602866e7",
        "ood_prompts": "bb44c6d503d0f96691f9a63505a5d47d452229c45551e5a13774c75468022633",
        "length_prompts": "69f436883eceeed48622264cef6b37ad23aa5fb245b2e87589ac0f00276d98ad",
    },
    "ban": {
        "train": "b3930bcdb0b24fadb2aa4414ac750b6b046dd6d9b1d1823ca7d72e8f1ff01a87",
        "val": "81e0dfd6555dd99ddb55d52181b2dbaf4a4ca41075936429cb174c8944ce0ec2",
        "test": "a031504b0d7fbaf1fbc7aaea6f71e44ab6d3622bbcc82d5a24a37303ec705b0d",
        "id_prompts": "3a81846c6a3116009a88dd43d0099ba3949dd5c90ce0d985f2631eac7410f287",
        "ood_prompts": "3d125a80086f9a576dd3377008742a661e0ab001fd1d9eaf759c7cca9f14bf29",
        "length_prompts": "e02def8d5ae7a48be1a3ce25c40ed18ad7f3477acb61f4f9efb539fd0722086b",
    },
    "bban": {
        "train": "16f0d3fdb8801611fcf53e6a247827113931c690d38642f7ccbbab094dbaa1ba",
        "val": "973aaba87dcd490bdb8e6d98ff42b4648170ac32f8d719154ead469115e00025",
        "test": "f857fc181d0c5079a0f1bf0856cc6926c25590fe699670f1a905597956fb9ae8",
        "id_prompts": "1ea8c2eb5fe883138b63da24e01a02384288921b6405ed075e92f2076a0a0c56",
        "ood_prompts": "506f20b046d2e9c9e4ffdd9f5c16dd9f6faaee915a017c8d341971aa2c2019e3",
        "length_prompts": "d71e7081a9af10309b47eeae74d50181694c4e26309864f9c8620a1716903791",
    },
    "dyck": {
        "train": "a1aad2e5b44c9cbaac1d50d556300cc209c4114412f7f091a6a199c62ad62306",
        "val": "64cc62d6c833c3df6449e28e46bb18776841cb8374e99ca9ba4870eeb85c9b16",
        "test": "7af9a46e87f02fad516deb38ae25bfbfd94509b170ac285d5880a8329e56f2ce",
        "id_prompts": "a6d0baf5caa9003fd5493b545fbd45729b0b567f2e6b39f67eb70a6f241e9dc3",
        "ood_prompts": "01b46fae946bfeeaad1232755e52aa138e82ce2a824a7af239e07ee60fd7eb0b",
        "length_prompts": "834c43720016ac051cf1bb0372db6b4b51b63fcec54724ee4003435e25d6d9d0",
    },
    "csdyck": {
        "train": "f97f08b52fa5cab914af72e029e414ced4e803550da367fb9aeb737af3cbb3eb",
        "val": "32fbf0d91f492cb722ee2ca7e13baa6022b0a652db6b8aeb36c872b1d198499b",
        "test": "5368f527ef096bef00816887d72e4caf08c3e43cd6335d16e8266c9b037910da",
        "id_prompts": "c518c577dde70371739bd8b7b0c014c28066fe2576b2132857dabcf5320993e7",
        "ood_prompts": "12d06cf363f5c347f56dbf5ba4baa056880a67f1ecd3f0044249b4853c7aecd6",
        "length_prompts": "2c91228301778af2312d17598da78ca19838f317baf3d9b002e2a098b45f51a1",
    },
    "icl-single": {
        "train": "452f8f35f30bf11ad5851f304c438aa8cdb098b7843504b42d32ec5ef07cb1b4",
        "val": "40a16e0798d0f52162b35377a704560e9785e3fee82891fa588cc6d458e7a170",
        "test": "230e29fdc41ab141cb0f778043ddaea3a3671aae900088d4152e92b83b05fd45",
        "id_prompts": "0fdeea558f0120266809bc07c9217cfff0ed86675eeec0f17d92f8894dfeb460",
        "ood_prompts": "b4dbafbd2cf686c169b26a85657332e611332f422535325c7b54e6afa095164c",
        "length_prompts": "85aa72093dbe42e6768bd01316cdfac48f78910e12237a5d6404e2a4d4cf7cd4",
    },
    "icl-rare": {
        "train": "7d9ff01534b09cd29fbc10f8be9d46b486b9bcbeb900a54ea8cbc5d2485b2a69",
        "val": "6a93102a1fabb1fd7c522e7d5ce58b17c6e47699e57a4d5b42d511a5f5495183",
        "test": "527b0c772446f4f5c28af56107fce8fed9aea19ff2d727a29ecea10b3ed97995",
        "id_prompts": "fa55f893bdceb9b56efa684f277f9b3a12d7239e53dbeff9405f58ffdc7b24d6",
        "ood_prompts": "677a0eb68249080bb671fc0f2f6bba7092a9fd2754f3f175d8eb416573dabb9d",
        "length_prompts": "ec903913fb1d635d13a592543b3725b968901414227213c308563c3ed04c57e3",
    },
    "icl-heavy": {
        "train": "2fd9ac470570bf8fb93219d7507d6b060f20dcaf68944b68396ea6372b67eb59",
        "val": "b182cde67921f1bd7f5d8ead6dce24d5877418ad4872cd03c38a9ef40fbcce72",
        "test": "dcb72c218cc07e3271228097d5b60d17166f74516d727f830e159f3356403be8",
        "id_prompts": "fa55f893bdceb9b56efa684f277f9b3a12d7239e53dbeff9405f58ffdc7b24d6",
        "ood_prompts": "cb520274a35e1ba6b6f18de90a91d3cb34dfb1490a243f55d44764ea0313e150",
        "length_prompts": "555470c0be3e5d88ced06bb037f9cdee207c750e042346f90b5118da8a8e01cb",
    },
}

# SHA-256 of the ICL probe sets (tasks/probes.py ProbeSet.jsonl; tasks/icl_probes.py).
PINNED_PROBE_SHA256: dict[str, str] = {
    "icl-single": "c55acfbcf46808d2381509fa23b92fbe6f4d2e7e2add3c4b5cf18e67982695a2",
    "icl-rare": "741bd13dd1fa43692a6743812c458f0daa3aa710587e7578bffe5d55e73618da",
    "icl-heavy": "52e910ad9bba13e73cf1a307a4cb09d181829e8a0453e02063250f4c7720f61f",
}
