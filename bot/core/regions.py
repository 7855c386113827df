"""Where DingTalk is offered: the default of the ``china_regions`` setting and of routing, on its
own so that the settings need none of the routing models."""

from __future__ import annotations

# Mainland China: "cn" and Alibaba Cloud's mainland region ids. Hong Kong (cn-hongkong) is not
# mainland and is not here; the deployment's setting replaces this list whole.
CHINA_REGIONS: tuple[str, ...] = (
    "cn",
    "cn-qingdao",
    "cn-beijing",
    "cn-zhangjiakou",
    "cn-huhehaote",
    "cn-wulanchabu",
    "cn-hangzhou",
    "cn-shanghai",
    "cn-nanjing",
    "cn-fuzhou",
    "cn-wuhan-lr",
    "cn-shenzhen",
    "cn-heyuan",
    "cn-guangzhou",
    "cn-chengdu",
)
