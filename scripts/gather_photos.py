#!/usr/bin/env python3
"""Gather the photographs the bundled lite models are trained on.

Sources, and only these (their licences allow redistribution and they install from the registries
every irtool machine can reach):

* photographs that ship inside scikit-image (``skimage/data/*``; no network needed);
* photographic wallpapers from Debian's wallpaper packages, fetched with ``apt-get download`` and
  unpacked with ``dpkg-deb -x`` into a cache directory (nothing is installed; no root needed, but
  the apt lists must be current: run ``apt-get update`` once if a download fails).

Every image below was looked at by hand; synthetic art, vector/rendered wallpapers, logos, test
patterns and microscopy were left out. Excluded on purpose although photographic: mate's
``Storm.jpg`` (its lower half is deliberate motion blur, a bad *clean* target for deblurring) and
the blurred "Ubuntu-Mate-*-no-logo" auroras (out of focus everywhere).

Processing: EXIF orientation applied, an embedded ICC profile converted to sRGB, grey photographs
replicated to three channels, then the longer side is reduced to at most ``--max-side`` (default
1024) with Pillow's Lanczos filter (antialiased). The downscale keeps training CPU-friendly and,
since most wallpapers are 2-6K JPEGs, also averages away their compression artefacts and sensor
noise, so the "clean" targets really are clean. Images already small enough are not resampled.
Outputs are 8-bit RGB PNGs without metadata.

The train/val split is FIXED by the ``split`` field of each entry below (never derived from a
random draw), so a validation photo can never leak into training. Reruns are deterministic and
idempotent: downloads are cached, unchanged outputs are not rewritten, ``manifest.json`` is
rewritten with the same content, and files a previous manifest listed that are no longer produced
are removed. Nothing is written outside ``--out`` and ``--cache``.

A second, opt-in collection (``--collection extra``, session 36) adds training photographs only; the held-out
10 stay the validation split, so every held-out measurement keeps its meaning. They come from two more Debian
packages: the photographs inside GCompris's activity resources (``gcompris-qt-data``: the animals, monuments,
world-music, underwater and "details" photos, each a lossy WebP inside a Qt ``.rcc`` bundle, picked out by the
sha256 of its bytes; the cartoons, paintings and renders are left out) and the photos of KDE's jigsaw puzzle game
(``palapeli-data``). Many are compressed hard (about 0.5 bit per pixel), so each is at least halved
(``reduce = 2``) before the usual ``--max-side`` limit: the Lanczos reduction averages the compression away, as
the wallpapers' own downscale does. They add night scenes, interiors, underwater and animal photographs that
the 37 training photos lack.

Usage::

    python scripts/gather_photos.py --out runs/photos
    python scripts/gather_photos.py --collection extra --out runs/photos_extra
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps

#: Sizes of the selected wallpapers reach 6028 x 3391: above Pillow's default bomb threshold
#: only for some, but these are trusted files from signed Debian packages.
Image.MAX_IMAGE_PIXELS = 64_000_000

SPLITS = ("train", "val")


@dataclass(frozen=True)
class DebianPackage:
    name: str
    #: Pinned so that the hand-checked allow-list keeps matching the archive's content.
    version: str


@dataclass(frozen=True)
class PhotoSource:
    #: Output file stem (unique across all sources).
    name: str
    split: str
    #: "skimage" or the Debian package name.
    origin: str
    #: skimage: the file name inside ``skimage/data``; Debian: the path inside the package.
    path: str
    #: For a photo stored inside a bundle (a Qt ``.rcc`` resource file): the sha256 of its WebP bytes there.
    blob_sha256: str = ""
    #: Downscale by at least this factor (heavily compressed sources; 1 = only the ``--max-side`` limit).
    reduce: int = 1
    #: ``base`` (the photos every bundled model was trained on) or ``extra`` (training photos added later).
    collection: str = "base"


DEBIAN_PACKAGES = {
    p.name: p
    for p in (
        DebianPackage(name="lomiri-wallpapers-16.04", version="20.04.0-2"),
        DebianPackage(name="lomiri-wallpapers-20.04", version="20.04.0-2"),
        DebianPackage(name="mate-backgrounds", version="1.26.0-1"),
        DebianPackage(name="plasma-workspace-wallpapers", version="4:5.27.5-2"),
        DebianPackage(name="gcompris-qt-data", version="3.1-2"),
        DebianPackage(name="palapeli-data", version="4:22.12.3-1"),
    )
}
#: What a photo belongs to; ``--collection`` takes one of them or ``all``.
PHOTO_COLLECTIONS = ("base", "extra")
COLLECTIONS = (*PHOTO_COLLECTIONS, "all")

_LOMIRI16 = "usr/share/backgrounds/"
_MATE = "usr/share/backgrounds/mate/nature/"


def _plasma(theme: str, size: str) -> str:
    # Plasma themes ship one photo at many sizes; the largest landscape one is taken.
    return f"usr/share/wallpapers/{theme}/contents/images/{size}.jpg"


#: The allow-list. Checked by eye; the split is part of the list on purpose.
PHOTOS: tuple[PhotoSource, ...] = (
    # scikit-image: everyday photographs only (grey ones become grey RGB).
    PhotoSource(name="skimage-astronaut", split="train", origin="skimage", path="astronaut.png"),
    PhotoSource(name="skimage-chelsea", split="train", origin="skimage", path="chelsea.png"),
    PhotoSource(name="skimage-rocket", split="train", origin="skimage", path="rocket.jpg"),
    PhotoSource(name="skimage-motorcycle_left", split="train", origin="skimage", path="motorcycle_left.png"),
    PhotoSource(name="skimage-camera", split="train", origin="skimage", path="camera.png"),
    PhotoSource(name="skimage-coins", split="train", origin="skimage", path="coins.png"),
    PhotoSource(name="skimage-brick", split="train", origin="skimage", path="brick.png"),
    PhotoSource(name="skimage-grass", split="train", origin="skimage", path="grass.png"),
    PhotoSource(name="skimage-coffee", split="val", origin="skimage", path="coffee.png"),
    PhotoSource(name="skimage-gravel", split="val", origin="skimage", path="gravel.png"),
    # lomiri-wallpapers-16.04 (Ubuntu wallpaper contest photographs).
    *(
        PhotoSource(
            name=f"lomiri-{stem.split('_by_')[0]}",
            split=split,
            origin="lomiri-wallpapers-16.04",
            path=f"{_LOMIRI16}{stem}.jpg",
        )
        for stem, split in (
            ("Bridge_by_Sander_Klootwijk", "train"),
            ("Dragonfly_by_Bolly", "train"),
            ("Picture_0B_by_freespace", "train"),
            ("Picture_1A_by_freespace", "val"),
            ("Wine_by_Jakkub_Mede", "train"),
            ("aitzgorri_by_Aitzol_Berasategi", "train"),
            ("analogpattern_by_Peter_Nerlich", "train"),
            ("free_by_Peter_Nerlich", "train"),
            ("friends_by_Aitzol_Berasategi", "val"),
            ("greentock_by_Peter_Nerlich", "train"),
            ("life_by_Aitzol_Berasategi", "train"),
            ("picosdeeuropa_by_Aitzol_Berasategi", "val"),
            ("seeding_by_Clements_Engelhardt", "train"),
            ("sunset_by_Aitzol_Berasategi", "train"),
        )
    ),
    PhotoSource(
        name="lomiri-Kleiber",
        split="train",
        origin="lomiri-wallpapers-20.04",
        path=f"{_LOMIRI16}Kleiber_by_Lukas_Baubkus.jpg",
    ),
    # mate-backgrounds: the "nature" photographs (Storm excluded, see the module docstring).
    *(
        PhotoSource(name=f"mate-{stem}", split=split, origin="mate-backgrounds", path=f"{_MATE}{stem}.jpg")
        for stem, split in (
            ("Aqua", "train"),
            ("Blinds", "train"),
            ("Dune", "val"),
            ("FreshFlower", "train"),
            ("Garden", "train"),
            ("GreenMeadow", "train"),
            ("LadyBird", "val"),
            ("RainDrops", "train"),
            ("TwoWings", "train"),
            ("Wood", "train"),
            ("YellowFlower", "train"),
        )
    ),
    # plasma-workspace-wallpapers: the photographic themes (the rest are rendered art).
    *(
        PhotoSource(
            name=f"plasma-{theme}", split=split, origin="plasma-workspace-wallpapers", path=_plasma(theme, size)
        )
        for theme, size, split in (
            ("BytheWater", "2560x1600", "train"),
            ("ColdRipple", "2560x1600", "train"),
            ("ColorfulCups", "2560x1600", "train"),
            ("DarkestHour", "2560x1600", "train"),
            ("EveningGlow", "2560x1600", "val"),
            ("FallenLeaf", "2560x1600", "train"),
            ("Grey", "2560x1600", "val"),
            ("Kite", "2560x1600", "train"),
            ("OneStandsOut", "2560x1600", "train"),
            ("Path", "2560x1600", "val"),
            ("summer_1am", "2560x1600", "train"),
        )
    ),
)


_GCOMPRIS_RCC = "usr/share/gcompris-qt/rcc/"
_PALAPELI = "usr/share/palapeli/collection/"

#: GCompris photographs: (output stem, bundle, sha256 of the WebP bytes), all for training, checked by eye.
_GCOMPRIS_PHOTOS: tuple[tuple[str, str, str], ...] = (
    # erase.rcc
    ("animals-00", "erase.rcc", "250140eb6d3a0af11b87c084ce18a6c41a8ed679c97ef758b58ba54e04b11f9c"),
    ("animals-01", "erase.rcc", "5957d392349d9016e0b6a2ca900ebd12a6a6eed6b21a1fb69111d1fabbca3973"),
    ("animals-02", "erase.rcc", "1aca9fcc5a0e3e9f2b2bc7d0f231e509f935dd8207b064e7c1810e0466e9403a"),
    ("animals-03", "erase.rcc", "f67d7d04bf3ba2270953db11be657fc3fc7292d4d070891f5164fef5b1665f96"),
    ("animals-04", "erase.rcc", "ec755f7b9d8953037161a7cf4f01270fdc92382913b33d987ceb27c1dfa6ded1"),
    ("animals-05", "erase.rcc", "df4da85790b8a403f5095e796d042f28f8386831a4970ab4b3035746ae038edc"),
    ("animals-06", "erase.rcc", "e2b2f388dc6f92ce2ea0f40f2d8d2d1ec6e8a135d05986cae67a7d0330c1ac26"),
    ("animals-07", "erase.rcc", "56bdd761a41440bdd47eae4aa75b1703f9d24c5d09c8352f9b462deaa6b9b96f"),
    ("animals-08", "erase.rcc", "b637658d7e0f8f555b5683a8c912646d57ba37be6ba9684df893a1d07ee9e637"),
    ("animals-09", "erase.rcc", "5fe69699bf37d702c3ca9b2b76c727aff717494ba368272952e05ac233028eda"),
    ("animals-10", "erase.rcc", "5ce6131ce966f585b263e2f04cbd504dd7366f99885ca3cbef12aa25d559b5d4"),
    ("animals-11", "erase.rcc", "ffd29864f09bf7439144e8da04d772fb455cfe9891d50e60ae70b99a16e42d5e"),
    ("animals-12", "erase.rcc", "5268033ecc366dbcf949a06e62361785a7be788dfa2b1ad343e7ded8104cfaf2"),
    ("animals-13", "erase.rcc", "a7b242c4b014e7e37f2f3fac95c841c49e2dea5d5aa886e2ab4758e0372af9f8"),
    ("animals-14", "erase.rcc", "8a338c7df32949c5a5e1fef4b901d554b1c1af71c6a5bd81882522c11e0c41e5"),
    ("animals-15", "erase.rcc", "1c8a4014d079380622c55d15afe6cad5bb53c42b09eb5b4e7bec8f127fdd063f"),
    ("animals-16", "erase.rcc", "822be2d08adc89a71e6eeff1500eea684c6f0961c98ddb1b23f0e66bbae4f987"),
    ("animals-17", "erase.rcc", "459198d83393a1835c76861d901144d209a0bead29f4b9d2ef5b472eeab01fdd"),
    ("animals-18", "erase.rcc", "e12b50bb4ee6bb36bd4e3ab428a2d1ea87d5390b5a6a4aa189b10950a1925860"),
    ("animals-19", "erase.rcc", "63006dabe8b74b826eba8d8d80c4330ff38f57fd3e1010254f4644d830c48067"),
    ("animals-20", "erase.rcc", "b9d85c2e2899036e7b0caf458696586adf63d431e5034362bb48a0abd8d29149"),
    ("animals-21", "erase.rcc", "810de9fea0499e4d1a7584c8b62b509ef1c404d9bec3094d53aeb8a77abdc7b2"),
    ("animals-22", "erase.rcc", "15b49393342bf7de3fef6c1bb083cc7b643fa90b5b46e1a344833eb1d515a795"),
    ("animals-23", "erase.rcc", "dab7bc930f6fe4f7a32db0b8f1bd86d905db50d8aa2e646522c428c731a80853"),
    ("animals-24", "erase.rcc", "1c8be6df0a6ff161ad49a789b5699f842b18f5dc93bf6b66fd5f1342266643b2"),
    ("animals-25", "erase.rcc", "3a97a3c854c6d93cc67cc608e569ed0e6157f22cd5dd7e118fb0a42641eeada8"),
    ("animals-26", "erase.rcc", "076622230f0634c0ef952f8f197280262db2355205c22f0c8f7731a13557c54a"),
    ("animals-27", "erase.rcc", "977b0ff4277075a4ef79e0c335276fd5a2ae68f8bf366503fd33203c49f82b04"),
    ("animals-28", "erase.rcc", "2847f84c4c9698a9b55124145dd679868da1239b0f174db8f2c83e173cbb9d8c"),
    ("animals-29", "erase.rcc", "acba63337c11582a5cc3fd97573e4fefd353da82e63a06f1947cdbb11f49b7bd"),
    ("animals-30", "erase.rcc", "7dcb1048527339524e6decd296d4bf8c22d74415fe5d6fcaa3354ae17530bf86"),
    ("animals-31", "erase.rcc", "c39106edc785a65bf0eee10bf039375b2fc3f72b405d76fec392a1a40b39d4f0"),
    ("animals-32", "erase.rcc", "c6f3a52585a3d6179c78e15375a9d9b11f37bfd0ac33b477f3b67cda06c59727"),
    # explore_world_animals.rcc
    ("wild-00", "explore_world_animals.rcc", "683964b6f57fdced539b3da8983ef4f4c9d78a0be3e251363fc5a17d4fb4fe7e"),
    ("wild-01", "explore_world_animals.rcc", "2252a671c2e0ade9ce6ff6d41957348a81ebccfd952ba59bfddceff0b059ea48"),
    ("wild-02", "explore_world_animals.rcc", "f3ececf0133c1301227fdea62d74bce7bcc0d138b048714b116aa4a0744260d5"),
    ("wild-03", "explore_world_animals.rcc", "840cf54b69bf4fb9a14a99fe502e237ad36e7230c146ca884b7b0e444ec12534"),
    ("wild-04", "explore_world_animals.rcc", "780aceaa624415db1f6ff304ed13e804572686316e69d21ee0e13856ef173f7e"),
    ("wild-05", "explore_world_animals.rcc", "8b088ed71a87e7e929cf08b49a1e1c977c47544307d348e52a0f4a85128662a0"),
    ("wild-06", "explore_world_animals.rcc", "77b243c27d79f3f5706497af5c1e8e9134f87d634def2b81e2074b572b575d18"),
    ("wild-07", "explore_world_animals.rcc", "4fccf91dd5e6a749d9eb621f982e6a0d7072830db91ba0daabcd86b1de7a9747"),
    ("wild-08", "explore_world_animals.rcc", "fc36683cc2069ac83ae84f2da61c2774149d1a1dcb99820380b724ca50d3532e"),
    ("wild-09", "explore_world_animals.rcc", "0544cef0a7d6940d3c143a04eecb7065bf9b90d7d367ad8bacbef6631b506070"),
    ("wild-10", "explore_world_animals.rcc", "11f3b2c5b876ee083924ff3ffab233c3e1d161993605b67d4d2ab5a9f1d9cf25"),
    ("wild-11", "explore_world_animals.rcc", "2a94d2fc7482ca806ce60210031f167782f7407ed47cd721371355e2ab575afc"),
    ("wild-12", "explore_world_animals.rcc", "22704727b6643480c62487ffb2d9fd618a3f499dde84b1eb789d4b0b11477e85"),
    ("wild-13", "explore_world_animals.rcc", "70ccf9a9db5008100eb6955ae25fabd4f7769427be784d627cf6315f6dfce692"),
    ("wild-14", "explore_world_animals.rcc", "68014ed783cf6a8b8c9c4202cf2c467a34819dab08bf566e93d5fcd872e41f5c"),
    # explore_farm_animals.rcc
    ("farm_animals-00", "explore_farm_animals.rcc", "fa4572f2022a3aded4b627b9234fb8abf1658d125b267dc8d28cb1a8213c3b60"),
    ("farm_animals-01", "explore_farm_animals.rcc", "db359136be5ef7c435a2521e7f782a7f13ab48634f8a955864b1557ca21926db"),
    ("farm_animals-02", "explore_farm_animals.rcc", "3bac61d5dabb709cdea2511f63bab6bfcde9736536a39f1f7510f5258a75b088"),
    ("farm_animals-03", "explore_farm_animals.rcc", "87879a9644b71713f52aadf22562f30cc3e6e25a36e07d602a90e0cf6ec888aa"),
    ("farm_animals-04", "explore_farm_animals.rcc", "ab7c3e1b04e80bc567b00dba49946918b5a38be1f37618f0d2b4887ef5792770"),
    ("farm_animals-05", "explore_farm_animals.rcc", "30a07d3c7dfc191ff4d160826ad14babb4cfb9cb47b15ec8a098857f135bfcd4"),
    ("farm_animals-06", "explore_farm_animals.rcc", "4f3d27d1fd3d0b3c0482d72a7b62101c133329f95427dcb3fb1319e69d53b7c8"),
    ("farm_animals-07", "explore_farm_animals.rcc", "5e9d9544495740101e4cfff817d986b683731112b2cf17fde2e4c2a26c3c5314"),
    ("farm_animals-08", "explore_farm_animals.rcc", "e8b7d705a955799f02eb3e8ded6487991d2c5c8274fee828ac75c0b917b3e237"),
    # explore_monuments.rcc
    ("monuments-00", "explore_monuments.rcc", "e9642c03c23004248bcdf0a364d9828625ba5ef75f82e4a10bfdf2b16bd0a18c"),
    ("monuments-01", "explore_monuments.rcc", "62d80a80ca5e5040bdb87c6f2fb57fa333d9b190c9a41066e4017cd4268656d9"),
    ("monuments-02", "explore_monuments.rcc", "fded6367850d2fafaf5ecad961ba51efbdc0c3d3171f7cc058d2ccfd2e6897e6"),
    ("monuments-03", "explore_monuments.rcc", "a96693bfff66c9a747a066b8d798aaf876427de969603c4125bf881f8af0ac2d"),
    ("monuments-04", "explore_monuments.rcc", "4e414fc35ae9b4e18e3219d6278287fb720e89facd332fef9a1c4fe9c3c3adc3"),
    ("monuments-05", "explore_monuments.rcc", "cf115ede228937f0dfea0ffd7efa5fa24a948f388091ce1a123e7636b25c080b"),
    ("monuments-06", "explore_monuments.rcc", "720ddce0a3124d68e306008c152fb19ec2a2917b3609ba8a31607cffaf52c2d2"),
    ("monuments-07", "explore_monuments.rcc", "b9de4b334e76df53df948de034f4bcc744be682a904ad7c61a9f9f7ac8de326b"),
    ("monuments-08", "explore_monuments.rcc", "1c097b958c4bc0e52384e572c3e3ed70abbb54e9b4936cd0852320e1ce12561e"),
    ("monuments-09", "explore_monuments.rcc", "b9e560a9ae2fd919baec7f5ceb08877d57194e614481b25058693a88c232897f"),
    ("monuments-10", "explore_monuments.rcc", "694a4eaebc52849aacf802383bc5c755c0fff97b8342a4ef733c7a36c6e6aa53"),
    ("monuments-11", "explore_monuments.rcc", "f8427c09579493e7918d00134423ed40140c2f3fa09fb13341d3c1a0640fc1e9"),
    ("monuments-12", "explore_monuments.rcc", "7df87dfe904e18fee2062e8dba2cbfc5c7b807e27c688b271a7380000865c2cf"),
    ("monuments-13", "explore_monuments.rcc", "ca717a088d790a901ffa1b03162c5cc438f99924d457f988263f158a7cc2cb38"),
    ("monuments-14", "explore_monuments.rcc", "a657a2139787bded963966d92b4ff9825327572e5e73d4badc1ac52cc063db0f"),
    ("monuments-15", "explore_monuments.rcc", "dea912cbd3950dacbba8cd810e39713525c27d54e58ce6ba7502a0f83cf24c95"),
    ("monuments-16", "explore_monuments.rcc", "8d1053776a85a9703f819ae6a82f981cbfa9a8961712404afee235afd87a0e48"),
    ("monuments-17", "explore_monuments.rcc", "a84a26be8d9447341e5235dd319acc71a49f2d91c8dd55a17a89867c64a580c0"),
    ("monuments-18", "explore_monuments.rcc", "7dbf980b3711f7557ed4d5748e494c48f72ac34ff601cf1a46f272ff9ab20543"),
    ("monuments-19", "explore_monuments.rcc", "c94ddb83bb2d878fecaf0677e8e6c1e73ede7dd39bd69f5e84d2f68e84515156"),
    ("monuments-20", "explore_monuments.rcc", "41791947f8772c9bf483ddb13a4fa4dfbbd1eef44f29937a99eebc5361d981a2"),
    ("monuments-21", "explore_monuments.rcc", "ec52355726f8c36c78f0db526dc0fd8c823f5572a5ced04e8914a82a7b496a8c"),
    ("monuments-22", "explore_monuments.rcc", "3b6741152471d00646271d3a413c08af0533766f09dc87af19abb9ff71801886"),
    ("monuments-23", "explore_monuments.rcc", "4edb7eed9db596bd7f3ad98eb34a82c04c32ff1d57aeec80a815c1248feb8e04"),
    ("monuments-24", "explore_monuments.rcc", "be7b3264cd3391e5b50714e0cec31f2e23e658498b5aba584a4b9aaf526dc51e"),
    ("monuments-25", "explore_monuments.rcc", "42c8376f99f770fa9daa92afb8cde44dc58dd3282b10c5ba8fabec02ea4b9643"),
    ("monuments-26", "explore_monuments.rcc", "d9fec7d6ac491a64c5dab74fed447054e9d188dc9732715bef12bd63909e87c8"),
    ("monuments-27", "explore_monuments.rcc", "2148fe45a54186a6e8bc4a395bbbffa0e3530e65232ceda5b841397a0d031bfb"),
    ("monuments-28", "explore_monuments.rcc", "8eeda3c92c734520b4b7865eb04a900402a329890064058bcb4448d21669a3a8"),
    ("monuments-29", "explore_monuments.rcc", "134f44b0e1c333202da337c73b6752db36fcbb5cb73e05cfcb4e5f4ff2fb4f43"),
    ("monuments-30", "explore_monuments.rcc", "fa8d36162b1380ac7998ab32d82f7b86b390cdce830acd807ef314291cc03ee5"),
    ("monuments-31", "explore_monuments.rcc", "52eab4d110bd168e644c9152a60a911cdd8ba5e3d4b661e966f256a074f66fb8"),
    ("monuments-32", "explore_monuments.rcc", "e109eb44fd12f853a4adfa0c30ca5a6bcc03205a58c9e6802b88886751d42277"),
    ("monuments-33", "explore_monuments.rcc", "b1d3584272eb66d8211a9cb71a3647e88597986f8020eca9691c488282ea9a88"),
    ("monuments-34", "explore_monuments.rcc", "c36913b06cea891736c82132a9124d178c11a0b1e1f0d511e9f8158a8271ac62"),
    ("monuments-35", "explore_monuments.rcc", "cc782ccdd5b508299ad17402df2d0d375c26e1f9b18e4d2e6c3fd474fcaeb458"),
    ("monuments-36", "explore_monuments.rcc", "9882593801be435822f1d948afb36b171ed7fc7a301dfa74b11df5ea9afaf681"),
    ("monuments-37", "explore_monuments.rcc", "fc0d45ec5a258568858c70d2d78eb23a5eb769255d74b384f70c20422d2eb351"),
    ("monuments-38", "explore_monuments.rcc", "3133f2872b3d791595296fd4bf4812654326e01f5c7cd2d870765bfd6772fa2b"),
    ("monuments-39", "explore_monuments.rcc", "0d38a0c2d4910f895c003825999345a86da080ff76d709bba923153cbd654945"),
    ("monuments-40", "explore_monuments.rcc", "e04e163ccef6e59411dff15c3459768b2f442fe2ff5042369d9a480f1f272068"),
    ("monuments-41", "explore_monuments.rcc", "546e2483d17c2b732ce375d946afba6fc612166abcd6d976217747a982b60777"),
    ("monuments-42", "explore_monuments.rcc", "15ec5fcb8758d54efa65581b9682e5cc766d700f3f329d700a06d0550d2c8e03"),
    ("monuments-43", "explore_monuments.rcc", "b552994f64727ceaa04218d6a5e7a86b08cb8b550c1eeae0b010f857286d308e"),
    ("monuments-44", "explore_monuments.rcc", "5b39680425fca3ff5f56b3bd79d11683a46a009d66ef23445e165ea72524b3cb"),
    ("monuments-45", "explore_monuments.rcc", "dd1818360d153c095e227157d128e498fe9b29437594e8e5c663184cad4120fb"),
    ("monuments-46", "explore_monuments.rcc", "2cb312c79a20e0cd8ed865c5b15a95af86d8d95a0ab96da8814c073857abf4bb"),
    ("monuments-47", "explore_monuments.rcc", "91be8dd19821221b2b3c30a78cb43a17d8017751a1d36acd751b1e9417acbbae"),
    ("monuments-48", "explore_monuments.rcc", "c90cdcbf981bcd5f118b553b059448db6fb0bfe801b40240e02ccd2975b92a59"),
    # explore_world_music.rcc
    ("music-00", "explore_world_music.rcc", "b4a6d85a40cefbd33cc6801ffcbb3ad7026d8d79be134c753b4f12b0b862cedf"),
    ("music-01", "explore_world_music.rcc", "b30a023e5d36bb053a4ee8e57bd0b4fa2042e3d0a5ab8e663a341ba6e35672ad"),
    ("music-02", "explore_world_music.rcc", "bc847e52730f5920b6743b59c881cc16430a1d2438ceba9008a2880530f7aaf2"),
    ("music-03", "explore_world_music.rcc", "0f0aa2d3116e01acdc693b626b1b60699124145670e624121289a7ced5020679"),
    ("music-04", "explore_world_music.rcc", "cd1286e5d7649bc446a47297f0127a38295e5a5f39a641b528e0c5063675c9d1"),
    ("music-05", "explore_world_music.rcc", "b7e0bc6da6f9fd8b2ae453f9a4a7021e5439bbd8944d4566b938134c0fa24951"),
    ("music-06", "explore_world_music.rcc", "72af64588442d1e251ed33568629d35bf88b3fa348def66265320571bdda0927"),
    ("music-07", "explore_world_music.rcc", "c4b27aebe08498a882efa57ebc1ac2798ae2173228656f107cd8bff6098b5acf"),
    ("music-08", "explore_world_music.rcc", "20ef5a10a55b03632dc5fec2434c3a7814c15abbbe7489dedb4aa97ee6b111af"),
    # clickgame.rcc
    ("underwater-00", "clickgame.rcc", "9c8236a6ade2a59fb05dfe03802cd9aa5d5e672c85731b136847287c33265974"),
    ("underwater-01", "clickgame.rcc", "533dcc0d871a390d5ee648ce1b4cfbccb41890cc1e514e5966f3cc02550d75a4"),
    ("underwater-02", "clickgame.rcc", "a3a8c196d24f6c37fc2e9bebd421ffa339485cf511fc2c3258ba9e5a17076170"),
    ("underwater-03", "clickgame.rcc", "42f7a4152c54f8bf065e8ad182472729a5374a6860c573a4de1ea0987e026cf3"),
    ("underwater-04", "clickgame.rcc", "08c6d1ae0ea47c5136137148c817472da329ca1e67063b0fb3e60190e5c55b00"),
    ("underwater-05", "clickgame.rcc", "21295e109d35b0f11a9c8dd17524be6212571cb28fad56613be1f8789a261f5e"),
    # details.rcc
    ("details-00", "details.rcc", "0bbfd0f6edd1145aeee774587635d7738c73274271b4be83eec9b476a3c421ee"),
    ("details-02", "details.rcc", "702de281dd3a2fa4c4c3bea385e2e12d5030fc8b46268e96dcfda5a3d0d3bb90"),
    ("details-04", "details.rcc", "9c2796c2a415cfd3b2ba20f52d7da5935298d00f208028b6c6d25d5d680b0cfb"),
    ("details-05", "details.rcc", "6ba38f91b6f6f53c4c105c57f647bd43d11b737293f23b1cef1806a81b872106"),
    ("details-08", "details.rcc", "a811a6b2294807122fdde6295e2decb59e80ef6e248eddb4b228a6785a354e8c"),
    ("details-10", "details.rcc", "84b09f2cc12c464b1404e4fdb3c45ac7f7f51e9b4b3dfe450bf7cdf669946cd7"),
    ("details-12", "details.rcc", "b973a69611d3ff8ed554879d08d31d8876faaf4c20ee76e0c8ff36922cd15b34"),
    ("details-13", "details.rcc", "cd94fbfc2ef05477d23688eb24401fb8b8dd550f6eb0aa2b8cbcb6f646c7a62f"),
    ("details-15", "details.rcc", "3cea5251d1e93a9a2e03d3d6001a26098c9614e4b7922725924307a305148068"),
    ("details-16", "details.rcc", "71946fdfe1a1dab7b081b97a53fe4d2beed6eaf8bf02e0df7ecf4a1974bbe7db"),
    ("details-18", "details.rcc", "d8f4c352456d71487af05171b498ce4bd3f96d830a6c6e865e12f4608c5fd5a6"),
)

EXTRA_PHOTOS: tuple[PhotoSource, ...] = (
    *(
        PhotoSource(name=f"gcompris-{stem}", split="train", origin="gcompris-qt-data",
                    path=f"{_GCOMPRIS_RCC}{bundle}", blob_sha256=digest, reduce=2, collection="extra")
        for stem, bundle, digest in _GCOMPRIS_PHOTOS
    ),
    *(
        PhotoSource(name=f"palapeli-{stem}", split="train", origin="palapeli-data", path=f"{_PALAPELI}{stem}.jpg",
                    reduce=2, collection="extra")
        for stem in ("castle-maintenon", "cincinnati-bridge", "citrus-fruits", "european-honey-bee",
                     "panther-chameleon-female")
    ),
)


class GatherError(RuntimeError):
    """A source could not be fetched or read; the message says what to do."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_debian_package(package: DebianPackage, *, cache_dir: Path) -> tuple[Path, str]:
    """Download (once) and unpack ``package``; returns (unpacked root, sha256 of the .deb)."""
    deb_dir = cache_dir / "debs"
    root = cache_dir / "unpacked" / f"{package.name}_{package.version.replace(':', '%3a')}"
    deb_dir.mkdir(parents=True, exist_ok=True)
    # apt names the file with the epoch colon escaped as %3a.
    deb_path = deb_dir / f"{package.name}_{package.version.replace(':', '%3a')}_all.deb"
    if not deb_path.exists():
        with tempfile.TemporaryDirectory(dir=deb_dir) as tmp:
            result = subprocess.run(
                ["apt-get", "download", f"{package.name}={package.version}"],
                cwd=tmp,
                capture_output=True,
                text=True,
            )
            downloaded = sorted(Path(tmp).glob("*.deb"))
            if result.returncode != 0 or len(downloaded) != 1:
                raise GatherError(
                    f"apt-get download {package.name}={package.version} failed "
                    f"(run `apt-get update` first; the pinned version may have left the archive):\n"
                    f"{result.stderr.strip()}"
                )
            os.replace(downloaded[0], deb_path)
    deb_sha = sha256_of(deb_path.read_bytes())
    marker = root / ".unpacked-from"
    if not marker.exists() or marker.read_text() != deb_sha:
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb_path), str(root)], check=True)
        marker.write_text(deb_sha)
    return root, deb_sha


def to_srgb_rgb(image: Image.Image) -> Image.Image:
    """Upright, sRGB, 8-bit RGB, no alpha."""
    image = ImageOps.exif_transpose(image)
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "L", "CMYK"):
        source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        image = ImageCms.profileToProfile(image, source_profile, ImageCms.createProfile("sRGB"), outputMode="RGB")
    if image.mode in ("RGBA", "LA", "P"):
        # Composite on black rather than keep alpha: the selected photos are opaque anyway.
        image = image.convert("RGBA")
        canvas = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(canvas, image)
    return image.convert("RGB")


def webp_in_bundle(bundle: bytes, sha256: str) -> bytes:
    """The WebP file inside ``bundle`` (a Qt resource file stores them uncompressed) whose bytes hash to
    ``sha256``; each is a RIFF chunk, ``RIFF`` + little-endian size + ``WEBP``."""
    start = bundle.find(b"RIFF")
    while start >= 0:
        if bundle[start + 8:start + 12] == b"WEBP":
            size = int.from_bytes(bundle[start + 4:start + 8], "little")
            blob = bundle[start:start + 8 + size]
            if sha256_of(blob) == sha256:
                return blob
        start = bundle.find(b"RIFF", start + 4)
    raise GatherError(f"no WebP image with sha256 {sha256} in the bundle (has the package changed?)")


def downscale(image: Image.Image, *, max_side: int, reduce: int = 1) -> Image.Image:
    longest = max(image.size)
    max_side = min(max_side, longest // reduce)
    if longest <= max_side:
        return image
    factor = max_side / longest
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, resample=Image.Resampling.LANCZOS, reducing_gap=None)


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # Rebuilt from raw pixels so no metadata rides along (Pillow would re-embed an ICC profile
    # carried in ``info``, and a freshly created sRGB profile carries a timestamp), and a fixed
    # compression level: identical pixels give identical bytes.
    bare = Image.frombytes("RGB", image.size, image.tobytes())
    bare.save(buffer, format="PNG", compress_level=9, optimize=False)
    return buffer.getvalue()


def write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def selected(collection: str) -> tuple[PhotoSource, ...]:
    every = PHOTOS + EXTRA_PHOTOS
    return every if collection == "all" else tuple(p for p in every if p.collection == collection)


def validate_allow_list() -> None:
    every = selected("all")
    names = [p.name for p in every]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GatherError(f"duplicate output names in the allow-list: {duplicates}")
    for photo in every:
        if photo.split not in SPLITS:
            raise GatherError(f"{photo.name}: split must be one of {SPLITS}")
        if photo.collection not in PHOTO_COLLECTIONS:
            raise GatherError(f"{photo.name}: collection must be one of {PHOTO_COLLECTIONS}")
        if photo.origin != "skimage" and photo.origin not in DEBIAN_PACKAGES:
            raise GatherError(f"{photo.name}: unknown origin {photo.origin!r}")


def check_out_dir(out_dir: Path, collection: str) -> None:
    """Refuse a folder another collection was gathered into: a rerun removes the files its manifest lists and this
    run does not produce, which would be the other collection's photos (``all`` produces every one of them)."""
    manifest_path = out_dir / "manifest.json"
    if not manifest_path.exists():
        return
    earlier = json.loads(manifest_path.read_text()).get("collection", "base")
    if collection != "all" and earlier != collection:
        raise GatherError(f"{out_dir} holds the {earlier!r} collection; gather {collection!r} into another --out "
                          "(or --collection all, which keeps every photo there)")


def gather(*, out_dir: Path, cache_dir: Path, max_side: int, collection: str = "base") -> dict:
    validate_allow_list()
    check_out_dir(out_dir, collection)
    photos = selected(collection)
    import skimage  # only the script needs it; imported late so --help stays fast

    skimage_dir = Path(skimage.__file__).parent / "data"
    unpacked: dict[str, tuple[Path, str]] = {}
    for origin in sorted({p.origin for p in photos} - {"skimage"}):
        unpacked[origin] = fetch_debian_package(DEBIAN_PACKAGES[origin], cache_dir=cache_dir)

    entries = []
    for photo in photos:
        if photo.origin == "skimage":
            source_path = skimage_dir / photo.path
            source = {
                "kind": "skimage",
                "name": Path(photo.path).stem,
                "version": skimage.__version__,
                "path": f"skimage/data/{photo.path}",
            }
        else:
            root, deb_sha = unpacked[photo.origin]
            source_path = root / photo.path
            package = DEBIAN_PACKAGES[photo.origin]
            source = {
                "kind": "debian",
                "package": package.name,
                "version": package.version,
                "deb_sha256": deb_sha,
                "path": f"/{photo.path}",
            }
        if not source_path.is_file():
            raise GatherError(f"{photo.name}: {source_path} is missing from {photo.origin}")
        opened: Path | io.BytesIO = source_path
        if photo.blob_sha256:
            opened = io.BytesIO(webp_in_bundle(source_path.read_bytes(), photo.blob_sha256))
            source["blob_sha256"] = photo.blob_sha256
        with Image.open(opened) as original:
            original_size = original.size
            image = downscale(to_srgb_rgb(original), max_side=max_side, reduce=photo.reduce)
        png = encode_png(image)
        relative = f"{photo.split}/{photo.name}.png"
        write_if_changed(out_dir / relative, png)
        entries.append(
            {
                "file": relative,
                "split": photo.split,
                "source": source,
                "original_size": list(original_size),
                "size": [image.width, image.height],
                "sha256": sha256_of(png),
            }
        )

    manifest_path = out_dir / "manifest.json"
    produced = {e["file"] for e in entries}
    if manifest_path.exists():
        # Remove only what an earlier run of this script wrote and this run no longer produces.
        previous = json.loads(manifest_path.read_text())
        for old in previous.get("images", []):
            stale = out_dir / old["file"]
            if old["file"] not in produced and stale.is_file():
                stale.unlink()
    manifest = {
        "generator": "scripts/gather_photos.py",
        "collection": collection,
        "max_side": max_side,
        "resample": "PIL Lanczos (antialiased), sRGB, 8-bit RGB PNG",
        "counts": {split: sum(e["split"] == split for e in entries) for split in SPLITS},
        "images": entries,
    }
    write_if_changed(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/photos"),
        help="output folder (train/, val/, manifest.json); default runs/photos",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "irtool-gather-photos",
        help="where .deb files are downloaded and unpacked (reused on reruns)",
    )
    parser.add_argument(
        "--max-side",
        type=int,
        default=1024,
        help="downscale so the longer side is at most this many pixels (default 1024)",
    )
    parser.add_argument(
        "--collection",
        choices=COLLECTIONS,
        default="base",
        help="base: the photos the bundled models were trained on (default); extra: the training photos added in "
        "session 36 (GCompris, Palapeli); all: both",
    )
    args = parser.parse_args(argv)
    if args.max_side < 64:
        parser.error("--max-side must be at least 64")
    try:
        manifest = gather(out_dir=args.out, cache_dir=args.cache, max_side=args.max_side, collection=args.collection)
    except GatherError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = manifest["counts"]
    print(f"wrote {counts['train']} train and {counts['val']} val photos to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
