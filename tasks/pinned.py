"""SHA-256 of every split of suite v1 (see ``tasks/splits.py`` for the exact bytes hashed).

A change to any task definition, sampler or split rule that alters a split changes a
digest, and ``tests/test_splits.py`` fails. Update these values only together with a new
``SUITE_VERSION``: results of different suite versions are not comparable.
"""

PINNED_SHA256: dict[str, dict[str, str]] = {
    "anbn": {
        "train": "c1c9c13e3f1a523b905118ec7586b7c32fd5283cbc98f7e98ccdcfe70a867633",
        "val": "de2c48fa189a4b780d3f8b544ef94d9fc6be5991778526f3883f04545e4ef80b",
        "test": "8562706a8c2ed9f95d2735bc3a31b41c425e81e9d13be78b8e0b8f36a367b20b",
        "id_prompts": "bb798ec1986a230d6a0113dfb72f1d6f53534bf57409e804eb6232eaf08805ed",
        "ood_prompts": "cc7747ef39bc73f54545923eac2683f8502a633c31d5f23af042d6bd2c687c6f",
        "length_prompts": "d562846f6a612d12ef26f38739868ae7c42856bf04f0ac66dc2b1119ce98fd01",
    },
    "anbncn": {
        "train": "6145b8958a59e1be3ac0f454b9ff9a4d4af83859ae0ab40fe6b53db463f9f214",
        "val": "66f50a4c9f0566a9ef761416f51ddc59d81ca38a1bf36cb6904e2b8263ce09fd",
        "test": "4ab359f07feeecdfbff6e133d22e804959d9c551d247ad63e2affdc891409e52",
        "id_prompts": "da9c2e1d3a8f5ded6fb25436733ad3f4d7726acbb1e5eeb813879eee602866e7",
        "ood_prompts": "bf155e2c555e0f86b2902bcbc0b2517fd8b5d91eed4b6550edf8ad1f68328865",
        "length_prompts": "a40a42b1102dae38781e458d9f1a4ba237eaf8b89baad691b64fa7f53e5ff901",
    },
    "ban": {
        "train": "c0374235f1dacd2b4e32ca3eb866b80741c6a4c46252315de5aaecc04c323d79",
        "val": "81866d05cee1d41a1dfc1b9ce14f9442697f7d58f55bfaaac3acc3b0f31fbf2e",
        "test": "825de6fdb975b277a67978975434ba352f69e5844a4390d92bbd650233c777ea",
        "id_prompts": "3a81846c6a3116009a88dd43d0099ba3949dd5c90ce0d985f2631eac7410f287",
        "ood_prompts": "d9b91a19c3cf67ee75f37158598c0cb3c503ca3cdda9e3112cfac51144afaca5",
        "length_prompts": "292b35d04768c08b61434b4909e1594104d618a60417e8e6e5de96ae847057a3",
    },
    "bban": {
        "train": "31db72952d022a617ea34bb5761cf59dd7bcafdc963ca813e249326f5b8d40f6",
        "val": "e9262f2006151bf6cdd9d5b8f69abc252ee2122369dee68558d8634175b52630",
        "test": "d81741704f1080afc4e581e4d29ca4f4e59057d8dbd02ad21cd884c797f4e573",
        "id_prompts": "1ea8c2eb5fe883138b63da24e01a02384288921b6405ed075e92f2076a0a0c56",
        "ood_prompts": "c19938ce50be746c4ad7da440dacc9570eb6af3bf103cfe0f39f6c1a89290314",
        "length_prompts": "6ccd9877227b1d6cb3a75ace7ccd957037595ebb202d4a735780c1b58eaf9c21",
    },
    "dyck": {
        "train": "e48fd13a67fc22dd9d4a0536df82c3321abdc3ab0f253e0f9f7fae55b06becdb",
        "val": "58de315fade6e44f99406a3f0235dfe8dd273e57a88bad6ba8ef8154c80a768e",
        "test": "665e8999a88695bceb68020ec18a8df7f146ccbcde88907f6e5ec8401082c739",
        "id_prompts": "a6d0baf5caa9003fd5493b545fbd45729b0b567f2e6b39f67eb70a6f241e9dc3",
        "ood_prompts": "00cb67077b51ef2da0bf6bda4170c140967e5e9005335b3293845b0ab07e9015",
        "length_prompts": "cde631e500d69703e50920a653eef0298417ad5f1347fbedfa76f391b8658949",
    },
    "csdyck": {
        "train": "336c01decfd6b644088f1c0ec1eaee7427c08b959305f8657cba35a052a695b7",
        "val": "43ace42906661dab21de95e9faaca079f2a24435b21a0f8732568c83e9eb790f",
        "test": "d97e1e0e86f2a542112093a3a9ffe2b2a5ed31c32b18484daa2eccee39b9ca22",
        "id_prompts": "c518c577dde70371739bd8b7b0c014c28066fe2576b2132857dabcf5320993e7",
        "ood_prompts": "4cc66bcfcee6eb55c74f0e53177e01f3000d566b1777ae18f175672149c904f3",
        "length_prompts": "cf3a9a13b9ca515ce96a46405a9f557cff3c16a2203ef26046b2bc290ca83135",
    },
}
