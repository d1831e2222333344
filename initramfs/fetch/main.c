/* gapbox-fetch: the initramfs's HTTP client for a netboot (gapbox.fetch=); being written. */
#include <stdio.h>

#include <curl/curl.h>

int main(void)
{
	curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	printf("gapbox-fetch: libcurl %s\n", v->version);
	return 0;
}
